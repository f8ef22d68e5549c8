"""Comments on the account's own media, as the Instagram API with Instagram Login has them
(`instagram_business_manage_comments`):

- `GET /{media-id}/comments` (`fields`, `limit`, `after`), newest first; `replies{...}` expands each
  comment's replies (oldest first) with their own fields;
- `POST /{media-id}/comments?message=` → `{"id"}` (at most 2,200 characters; stories take no comments);
- `GET /{comment-id}` (`fields`, `media{id,media_product_type}` among them);
- `GET /{comment-id}/replies` and `POST /{comment-id}/replies?message=` → `{"id"}`: replies hang off the
  top-level comment (a reply to a reply is added to its top-level comment); a hidden comment takes none;
- `POST /{comment-id}?hide=true|false` → `{"success": true}`; the media owner's own comments cannot be hidden;
- `DELETE /{comment-id}` → `{"success": true}`; a top-level comment goes with its replies.

Only comments on the token's own media can be read or moderated; any other id, and a deleted one, answers
100/33 ("Unsupported ... request. Object with ID ... does not exist"), as Instagram does.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from app.sandbox.calls import GraphContext
from app.sandbox.errors import invalid_parameter, missing_parameter, nonexisting_field, unsupported_request
from app.sandbox.models import Comment, Media
from app.sandbox.params import FieldSpec, parse_bool, parse_fields, parse_int
from app.sandbox.reads import graph_time, owned_media
from app.sandbox.state import Sandbox

COMMENT_FIELDS = frozenset(
    {"id", "text", "username", "timestamp", "like_count", "hidden", "parent_id", "from", "media", "replies", "user"}
)
MEDIA_FIELDS = frozenset({"id", "media_product_type"})
# What Instagram answers without `fields` (its comment moderation guide shows these three).
DEFAULT_FIELDS = [FieldSpec("timestamp"), FieldSpec("text"), FieldSpec("id")]
MAX_COMMENT_CHARS = 2200
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 50


def comment_view(sandbox: Sandbox, comment: Comment, fields: list[FieldSpec] | None) -> dict[str, Any]:
    """An IG Comment node with the requested fields (timestamp, text and id without `fields`)."""
    values: dict[str, Any] = {}
    for spec in fields or DEFAULT_FIELDS:
        if spec.name not in COMMENT_FIELDS:
            raise nonexisting_field(spec.name, "IGComment")
        if spec.name == "timestamp":
            values["timestamp"] = graph_time(comment.timestamp)
        elif spec.name == "from":
            values["from"] = {"id": comment.from_id, "username": comment.username}
        elif spec.name == "user":
            # Only the commenter's id: Instagram serves `user` for comments the app user can see.
            values["user"] = {"id": comment.from_id}
        elif spec.name == "media":
            values["media"] = _media_of(comment, spec.children)
        elif spec.name == "replies":
            # An edge, even for a reply (which has none): `{"data": [...]}`.
            replies = replies_of(sandbox, comment)
            values["replies"] = {"data": [comment_view(sandbox, r, list(spec.children or ())) for r in replies]}
        elif (value := getattr(comment, spec.name)) is not None:
            values[spec.name] = value
    return values


def _media_of(comment: Comment, children: tuple[FieldSpec, ...] | None) -> dict[str, Any]:
    values: dict[str, Any] = {"id": comment.media_id}
    for child in children or ():
        if child.name not in MEDIA_FIELDS:
            raise nonexisting_field(child.name, "Media")
        if child.name == "media_product_type":
            values["media_product_type"] = comment.media_product_type
    return values


def replies_of(sandbox: Sandbox, comment: Comment) -> list[Comment]:
    """A comment's replies, oldest first."""
    world = sandbox.world
    return [world.comments[r] for r in comment.replies if r in world.comments]


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


def _page(ctx: GraphContext, comments: list[Comment]) -> dict[str, Any]:
    """A cursor page (`limit`, `after`) of comments in the order given."""
    fields = parse_fields(ctx.params.get("fields"))
    limit = min(MAX_PAGE_SIZE, parse_int(ctx.params.get("limit"), "limit", default=DEFAULT_PAGE_SIZE, minimum=1))
    ids = [c.id for c in comments]
    start = _after(ctx.params["after"], ids) if ctx.params.get("after") else 0
    page = comments[start : start + limit]
    body: dict[str, Any] = {"data": [comment_view(ctx.sandbox, c, fields) for c in page]}
    if page:
        paging: dict[str, Any] = {"cursors": {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}}
        if start + limit < len(comments):
            paging["next"] = f"{ctx.call.url.split('?', 1)[0]}?after={_cursor(page[-1].id)}&limit={limit}"
        body["paging"] = paging
    return body


async def list_comments(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{media-id}/comments`: top-level comments, newest first, a page at a time."""
    media = owned_media(ctx)
    world = ctx.sandbox.world
    comments = sorted(
        (world.comments[c] for c in world.media_comments.get(media.id, []) if c in world.comments),
        key=lambda c: (c.timestamp, c.id),
        reverse=True,
    )
    return _page(ctx, comments)


def _commentable(ctx: GraphContext) -> Media:
    media = owned_media(ctx)
    if media.product_type == "STORY" or media.parent_id is not None:
        raise invalid_parameter("Comments are not supported on this media")
    return media


def _message(ctx: GraphContext) -> str:
    message = ctx.params.get("message")
    if message is None or not message.strip():
        raise missing_parameter("message")
    if len(message) > MAX_COMMENT_CHARS:
        raise invalid_parameter(f"The comment is too long: at most {MAX_COMMENT_CHARS} characters")
    return message


async def create_comment(ctx: GraphContext) -> dict[str, Any]:
    """`POST /{media-id}/comments?message=`: the account comments on its own media."""
    media = _commentable(ctx)
    message = _message(ctx)
    comment = new_comment(ctx.sandbox, media, author=ctx.user.username, author_id=ctx.user.app_scoped_id, text=message)
    return {"id": comment.id}


def new_comment(
    sandbox: Sandbox, media: Media, *, author: str, author_id: str, text: str, parent: Comment | None = None
) -> Comment:
    """Store a new comment by `author` on `media` (a reply when `parent` is given) and return it."""
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
        parent_id=parent.id if parent is not None else None,
    )
    world.add_comment(comment)
    return comment


# --- one comment --------------------------------------------------------------------------------


def owned_comment(ctx: GraphContext) -> Comment:
    """The comment named in the path, on the token's user's media (else, or once deleted, 100/33)."""
    node = ctx.node_id or ""
    comment = ctx.sandbox.world.comments.get(node)
    if comment is None or comment.media_owner_id != ctx.user.ig_id:
        raise unsupported_request(ctx.call.method, node)
    return comment


async def get_comment(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{comment-id}`: one comment with the requested fields."""
    comment = owned_comment(ctx)
    return comment_view(ctx.sandbox, comment, parse_fields(ctx.params.get("fields")))


async def list_replies(ctx: GraphContext) -> dict[str, Any]:
    """`GET /{comment-id}/replies`: the comment's replies, oldest first, a page at a time."""
    comment = owned_comment(ctx)
    return _page(ctx, replies_of(ctx.sandbox, comment))


async def create_reply(ctx: GraphContext) -> dict[str, Any]:
    """`POST /{comment-id}/replies?message=`: the account replies; a reply to a reply joins its top-level comment."""
    comment = owned_comment(ctx)
    world = ctx.sandbox.world
    top = world.comments[comment.parent_id] if comment.parent_id is not None else comment
    if comment.hidden or top.hidden:
        raise invalid_parameter("You cannot reply to a hidden comment", user_title="Comment Hidden")
    message = _message(ctx)
    media = world.media[comment.media_id]
    reply = new_comment(
        ctx.sandbox, media, author=ctx.user.username, author_id=ctx.user.app_scoped_id, text=message, parent=top
    )
    return {"id": reply.id}


async def hide_comment(ctx: GraphContext) -> dict[str, Any]:
    """`POST /{comment-id}?hide=true|false`: hide a comment from the public, or show it again."""
    comment = owned_comment(ctx)
    if ctx.params.get("hide") is None:
        raise missing_parameter("hide")
    hide = parse_bool(ctx.params.get("hide"), "hide", default=False)
    if hide and comment.from_id == ctx.user.app_scoped_id:
        raise invalid_parameter("Comments made by the owner of the media cannot be hidden")
    comment.hidden = hide
    return {"success": True}


async def delete_comment(ctx: GraphContext) -> dict[str, Any]:
    """`DELETE /{comment-id}`: the comment (with its replies) is gone for good."""
    comment = owned_comment(ctx)
    ctx.sandbox.world.delete_comment(comment.id, ctx.sandbox.now())
    return {"success": True}


def comments_on(sandbox: Sandbox, media_id: str) -> list[dict[str, Any]]:
    """The comments on a media, oldest first, as the control API lists them."""
    world = sandbox.world
    return [
        {"id": c.id, "text": c.text, "username": c.username, "timestamp": graph_time(c.timestamp)}
        for c in (world.comments[i] for i in world.media_comments.get(media_id, []) if i in world.comments)
    ]
