"""Graph reads: `/me`, `/{ig-user-id}`, `/{ig-user-id}/media`, `/{ig-user-id}/stories`, media and children."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.sandbox.calls import GraphContext
from app.sandbox.errors import invalid_parameter, nonexisting_field, unsupported_request
from app.sandbox.figures import media_figures
from app.sandbox.models import Media, User
from app.sandbox.params import FieldSpec, parse_fields, parse_int
from app.sandbox.state import Sandbox

USER_FIELDS = frozenset(
    {
        "id",
        "user_id",
        "username",
        "name",
        "account_type",
        "profile_picture_url",
        "followers_count",
        "follows_count",
        "media_count",
        "biography",
        "website",
        "has_profile_pic",
    }
)
MEDIA_FIELDS = frozenset(
    {
        "id",
        "caption",
        "media_type",
        "media_product_type",
        "media_url",
        "permalink",
        "shortcode",
        "thumbnail_url",
        "timestamp",
        "like_count",
        "comments_count",
        "username",
        "owner",
        "is_shared_to_feed",
        "alt_text",
        "is_comment_enabled",
        "children",
    }
)
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
STORY_VISIBLE = timedelta(hours=24)


def graph_time(moment: datetime) -> str:
    """`2019-09-26T22:36:43+0000`, the Graph timestamp format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


# --- users ----------------------------------------------------------------------------------------


def own_user(ctx: GraphContext) -> User:
    """The user named in the path, which must be the token's own (another's → 100/33, as Instagram does)."""
    node = ctx.node_id or "me"
    if node == "me":
        return ctx.user
    target = ctx.sandbox.world.find_user(node)
    if target is None or target.ig_id != ctx.user.ig_id:
        raise unsupported_request(ctx.call.method, node)
    return target


def media_count(sandbox: Sandbox, user: User) -> int:
    world = sandbox.world
    return sum(1 for mid in world.user_media.get(user.ig_id, []) if world.media[mid].product_type != "STORY")


def user_view(sandbox: Sandbox, user: User, fields: list[FieldSpec] | None, *, id_value: str) -> dict[str, Any]:
    """An IG User node; only `id` without `fields`, as the real API answers."""
    values: dict[str, Any] = {}
    for spec in fields or []:
        if spec.name not in USER_FIELDS:
            raise nonexisting_field(spec.name, "User")
        values[spec.name] = _user_field(sandbox, user, spec.name, id_value)
    values.setdefault("id", id_value)
    return values


def _user_field(sandbox: Sandbox, user: User, name: str, id_value: str) -> Any:
    match name:
        case "id":
            return id_value
        case "user_id":
            return user.ig_id
        case "account_type":
            return "BUSINESS"
        case "profile_picture_url":
            return f"{sandbox.base_url}/cdn/{user.ig_id}/profile.jpg"
        case "media_count":
            return media_count(sandbox, user)
        case "has_profile_pic":
            return True
        case _:
            return getattr(user, name)


async def get_me(ctx: GraphContext) -> dict[str, Any]:
    """`GET /me`: the token's user; `id` is the app-scoped id, `user_id` the professional account id."""
    fields = parse_fields(ctx.params.get("fields"))
    return user_view(ctx.sandbox, ctx.user, fields, id_value=ctx.user.app_scoped_id)


async def get_user(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{ig-user-id}`: the token's own user only."""
    user = own_user(ctx)
    fields = parse_fields(ctx.params.get("fields"))
    return user_view(ctx.sandbox, user, fields, id_value=ctx.node_id or user.ig_id)


# --- media ----------------------------------------------------------------------------------------


def media_url(sandbox: Sandbox, media: Media) -> str:
    world = sandbox.world
    if media.media_type == "CAROUSEL_ALBUM" and media.children:
        return media_url(sandbox, world.media[media.children[0]])
    extension = "mp4" if media.media_type == "VIDEO" else "jpg"
    return f"{sandbox.base_url}/cdn/{media.owner_id}/{media.id}.{extension}"


def permalink(media: Media) -> str:
    if media.product_type == "REELS":
        return f"https://www.instagram.com/reel/{media.shortcode}/"
    if media.product_type == "STORY":
        return f"https://www.instagram.com/stories/{media.username}/{media.id}/"
    return f"https://www.instagram.com/p/{media.shortcode}/"


def media_view(sandbox: Sandbox, media: Media, fields: list[FieldSpec] | None) -> dict[str, Any]:
    """An IG Media node; only `id` without `fields`; fields without a value for this media are left out."""
    values: dict[str, Any] = {}
    for spec in fields or []:
        if spec.name not in MEDIA_FIELDS:
            raise nonexisting_field(spec.name, "Media")
        value = _media_field(sandbox, media, spec)
        if value is not None:
            values[spec.name] = value
    values.setdefault("id", media.id)
    return values


def _media_field(sandbox: Sandbox, media: Media, spec: FieldSpec) -> Any:
    world = sandbox.world
    match spec.name:
        case "id":
            return media.id
        case "media_product_type":
            return media.product_type
        case "media_url":
            return media_url(sandbox, media)
        case "permalink":
            return permalink(media)
        case "thumbnail_url":
            if media.media_type != "VIDEO":
                return None
            return f"{sandbox.base_url}/cdn/{media.owner_id}/{media.id}_thumb.jpg"
        case "timestamp":
            return graph_time(media.timestamp)
        case "like_count" | "comments_count":
            if media.parent_id:  # carousel children carry no counts of their own
                return None
            figures = media_figures(media, world.users[media.owner_id].followers_count, sandbox.now())
            return figures.likes if spec.name == "like_count" else figures.comments
        case "owner":
            owner_values = {"id": media.owner_id}
            for child in spec.children or ():
                if child.name not in {"id", "username"}:
                    raise nonexisting_field(child.name, "User")
                if child.name == "username":
                    owner_values["username"] = media.username
            return owner_values
        case "is_comment_enabled":
            return media.product_type != "STORY"
        case "children":
            if media.media_type != "CAROUSEL_ALBUM":
                return None
            return {"data": [media_view(sandbox, world.media[c], list(spec.children or ())) for c in media.children]}
        case _:
            return getattr(media, spec.name)


def _encode_cursor(media_id: str) -> str:
    return base64.urlsafe_b64encode(f"m:{media_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, name: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_parameter(f"The {name} cursor is invalid") from exc
    if not text.startswith("m:"):
        raise invalid_parameter(f"The {name} cursor is invalid")
    return text[2:]


def _page_url(url: str, cursor_name: str, cursor: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in {"after", "before"}]
    query.append((cursor_name, cursor))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _unix_param(ctx: GraphContext, name: str) -> float | None:
    value = ctx.params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise invalid_parameter(f"Param {name} must be a Unix timestamp") from exc


def paginate(ctx: GraphContext, items: list[Media]) -> dict[str, Any]:
    """A cursor page (`limit`, `after`, `before`, `since`, `until`) of media, newest first."""
    fields = parse_fields(ctx.params.get("fields"))
    limit = min(MAX_PAGE_SIZE, parse_int(ctx.params.get("limit"), "limit", default=DEFAULT_PAGE_SIZE, minimum=1))
    since, until = _unix_param(ctx, "since"), _unix_param(ctx, "until")
    items = sorted(items, key=lambda m: (m.timestamp, m.id), reverse=True)
    if since is not None:
        items = [m for m in items if m.timestamp.timestamp() >= since]
    if until is not None:
        items = [m for m in items if m.timestamp.timestamp() <= until]
    ids = [m.id for m in items]
    start, end = 0, min(limit, len(items))
    if ctx.params.get("after"):
        after = _decode_cursor(ctx.params["after"], "after")
        if after not in ids:
            raise invalid_parameter("The after cursor is invalid")
        start = ids.index(after) + 1
        end = min(start + limit, len(items))
    elif ctx.params.get("before"):
        before = _decode_cursor(ctx.params["before"], "before")
        if before not in ids:
            raise invalid_parameter("The before cursor is invalid")
        end = ids.index(before)
        start = max(0, end - limit)
    page = items[start:end]
    body: dict[str, Any] = {"data": [media_view(ctx.sandbox, m, fields) for m in page]}
    if not page:
        return body
    first, last = _encode_cursor(page[0].id), _encode_cursor(page[-1].id)
    paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
    if end < len(items):
        paging["next"] = _page_url(ctx.call.url, "after", last)
    if start > 0:
        paging["previous"] = _page_url(ctx.call.url, "before", first)
    body["paging"] = paging
    return body


async def list_media(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{ig-user-id}/media`: feed posts, reels and carousels (not stories), newest first."""
    user = own_user(ctx)
    world = ctx.sandbox.world
    items = [world.media[mid] for mid in world.user_media.get(user.ig_id, [])]
    return paginate(ctx, [m for m in items if m.product_type != "STORY"])


async def list_stories(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{ig-user-id}/stories`: stories of the last 24 hours."""
    user = own_user(ctx)
    world = ctx.sandbox.world
    horizon = ctx.sandbox.now() - STORY_VISIBLE
    items = [world.media[mid] for mid in world.user_media.get(user.ig_id, [])]
    return paginate(ctx, [m for m in items if m.product_type == "STORY" and m.timestamp > horizon])


def owned_media(ctx: GraphContext) -> Media:
    """The media named in the path, owned by the token's user (else 100/33)."""
    node = ctx.node_id or ""
    media = ctx.sandbox.world.media.get(node)
    if media is None or media.owner_id != ctx.user.ig_id:
        raise unsupported_request(ctx.call.method, node)
    return media


async def list_children(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{media-id}/children`: a carousel's items."""
    media = owned_media(ctx)
    fields = parse_fields(ctx.params.get("fields"))
    world = ctx.sandbox.world
    return {"data": [media_view(ctx.sandbox, world.media[c], fields) for c in media.children]}
