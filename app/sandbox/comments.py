"""Comments on the account's own media, as the Instagram API with Instagram Login has them
(`instagram_business_manage_comments`):

- `GET /{media-id}/comments` (`fields`, `limit`, `after`), newest first;
- `POST /{media-id}/comments?message=` → `{"id"}` (at most 2,200 characters; stories take no comments).

Only the token's own media can be commented on or read; any other id answers 100/33, as Instagram does.
(Issue 13 grows this module into the whole comment moderation API; the two endpoints keep these names.)
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from app.sandbox.calls import GraphContext
from app.sandbox.errors import invalid_parameter, missing_parameter, nonexisting_field
from app.sandbox.models import Comment, Media
from app.sandbox.params import FieldSpec, parse_fields, parse_int
from app.sandbox.reads import graph_time, owned_media
from app.sandbox.state import Sandbox

COMMENT_FIELDS = frozenset({"id", "text", "username", "timestamp", "like_count", "hidden", "parent_id", "from"})
# What Instagram answers without `fields` (its comment moderation guide shows these three).
DEFAULT_FIELDS = [FieldSpec("timestamp"), FieldSpec("text"), FieldSpec("id")]
MAX_COMMENT_CHARS = 2200
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 50


def comment_view(comment: Comment, fields: list[FieldSpec] | None) -> dict[str, Any]:
    """An IG Comment node with the requested fields (timestamp, text and id without `fields`)."""
    values: dict[str, Any] = {}
    for spec in fields or DEFAULT_FIELDS:
        if spec.name not in COMMENT_FIELDS:
            raise nonexisting_field(spec.name, "IGComment")
        if spec.name == "timestamp":
            values["timestamp"] = graph_time(comment.timestamp)
        elif spec.name == "from":
            values["from"] = {"id": comment.from_id, "username": comment.username}
        elif (value := getattr(comment, spec.name)) is not None:
            values[spec.name] = value
    return values


def _cursor(comment_id: str) -> str:
    return base64.urlsafe_b64encode(f"c:{comment_id}".encode()).decode().rstrip("=")


def _after(cursor: str, ids: list[str]) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_parameter("The after cursor is invalid") from exc
    if not text.startswith("c:") or text[2:] not in ids:
        raise invalid_parameter("The after cursor is invalid")
    return ids.index(text[2:]) + 1


async def list_comments(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{media-id}/comments`: top-level comments, newest first, a page at a time."""
    media = owned_media(ctx)
    world = ctx.sandbox.world
    comments = sorted(
        (world.comments[c] for c in world.media_comments.get(media.id, [])),
        key=lambda c: (c.timestamp, c.id),
        reverse=True,
    )
    fields = parse_fields(ctx.params.get("fields"))
    limit = min(MAX_PAGE_SIZE, parse_int(ctx.params.get("limit"), "limit", default=DEFAULT_PAGE_SIZE, minimum=1))
    ids = [c.id for c in comments]
    start = _after(ctx.params["after"], ids) if ctx.params.get("after") else 0
    page = comments[start : start + limit]
    body: dict[str, Any] = {"data": [comment_view(c, fields) for c in page]}
    if page:
        paging: dict[str, Any] = {"cursors": {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}}
        if start + limit < len(comments):
            paging["next"] = f"{ctx.call.url.split('?', 1)[0]}?after={_cursor(page[-1].id)}&limit={limit}"
        body["paging"] = paging
    return body


def _commentable(ctx: GraphContext) -> Media:
    media = owned_media(ctx)
    if media.product_type == "STORY" or media.parent_id is not None:
        raise invalid_parameter("Comments are not supported on this media")
    return media


async def create_comment(ctx: GraphContext) -> dict[str, Any]:
    """`POST /{media-id}/comments?message=`: the account comments on its own media."""
    media = _commentable(ctx)
    message = ctx.params.get("message")
    if message is None or not message.strip():
        raise missing_parameter("message")
    if len(message) > MAX_COMMENT_CHARS:
        raise invalid_parameter(f"The comment is too long: at most {MAX_COMMENT_CHARS} characters")
    comment = new_comment(ctx.sandbox, media, author=ctx.user.username, author_id=ctx.user.app_scoped_id, text=message)
    return {"id": comment.id}


def new_comment(sandbox: Sandbox, media: Media, *, author: str, author_id: str, text: str) -> Comment:
    """Store a new top-level comment by `author` on `media` and return it."""
    world = sandbox.world
    comment = Comment(
        id=world.new_id("18"),
        media_id=media.id,
        media_product_type=media.product_type,
        text=text,
        username=author,
        from_id=author_id,
        timestamp=sandbox.now(),
        media_owner_id=media.owner_id,
    )
    world.add_comment(comment)
    return comment


def comments_on(sandbox: Sandbox, media_id: str) -> list[dict[str, Any]]:
    """The comments on a media, oldest first, as the control API lists them."""
    world = sandbox.world
    return [
        {"id": c.id, "text": c.text, "username": c.username, "timestamp": graph_time(c.timestamp)}
        for c in (world.comments[i] for i in world.media_comments.get(media_id, []))
    ]
