"""`/control/fans`: act as a fan of an account. A comment (or a reply) on the account's media, or a mention of
the account in a comment on the fan's own media, made in the sandbox's state and sent to the app as the signed
`comments` webhook Instagram would send, when the account subscribed to it.

With Instagram Login there is no `mentions` webhook field: a mention arrives as a `comments` event whose media is
not the account's and whose text @mentions it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from app.sandbox import auth
from app.sandbox.comments import MAX_COMMENT_CHARS, new_comment
from app.sandbox.control_webhooks import _event_user, _latest_media
from app.sandbox.dependencies import SandboxDep
from app.sandbox.models import Comment, Media, User
from app.sandbox.reads import graph_time
from app.sandbox.state import Sandbox
from app.sandbox.webhooks import make_entry, scoped_id

router = APIRouter(prefix="/control/fans", tags=["control"])


class _FanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, description="The account (or give its user_id).")
    user_id: str | None = None
    from_username: str = Field(default="ana.souza", description="The fan who writes.")
    envelope: Literal["flat", "changes"] = Field(default="changes", description="How the webhook entry is shaped.")


class FanCommentBody(_FanBody):
    media_id: str | None = Field(default=None, description="The account's media; default: its latest post or reel.")
    text: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)
    parent_id: str | None = Field(default=None, description="Reply under this top-level comment.")


class FanMentionBody(_FanBody):
    media_id: str | None = Field(default=None, description="The fan's media the comment is on; default: a new id.")
    text: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS, description="Default: a greeting.")


def _fan(from_username: str) -> str:
    name = auth.normalise_username(from_username)
    if name is None:
        raise HTTPException(status_code=400, detail="from_username: up to 30 letters, digits, periods or underscores")
    return name


def _media(sandbox: Sandbox, user: User, media_id: str | None) -> Media:
    if media_id is None:
        media = _latest_media(sandbox, user)
        if media is None:
            raise HTTPException(status_code=409, detail=f"{user.username} has no post or reel to comment on")
        return media
    media = sandbox.world.media.get(media_id.strip())
    if media is None or media.owner_id != user.ig_id:
        raise HTTPException(status_code=404, detail=f"no media {media_id!r} of {user.username}")
    if media.product_type == "STORY" or media.parent_id is not None:
        raise HTTPException(status_code=400, detail="media_id: stories and carousel items take no comments")
    return media


def _reply(sandbox: Sandbox, media: Media, parent_id: str, *, author: str, text: str) -> Comment:
    world = sandbox.world
    parent = world.comments.get(parent_id.strip())
    if parent is None or parent.media_id != media.id:
        raise HTTPException(status_code=404, detail=f"no comment {parent_id!r} on media {media.id}")
    if parent.parent_id is not None:
        raise HTTPException(status_code=400, detail="parent_id: replies go under a top-level comment")
    comment = Comment(
        id=world.new_id("18"),
        media_id=media.id,
        media_product_type=media.product_type,
        text=text,
        username=author,
        from_id=scoped_id(author),
        timestamp=sandbox.now(),
        media_owner_id=media.owner_id,
        parent_id=parent.id,
    )
    world.add_comment(comment)
    return comment


def _value(comment: Comment) -> dict[str, Any]:
    """The `comments` field's value, as Instagram sends it."""
    value: dict[str, Any] = {
        "from": {"id": comment.from_id, "username": comment.username},
        "media": {"id": comment.media_id, "media_product_type": comment.media_product_type},
        "id": comment.id,
        "text": comment.text,
    }
    if comment.parent_id is not None:
        value["parent_id"] = comment.parent_id
    return value


def _send(sandbox: Sandbox, user: User, comment: Comment, envelope: Literal["flat", "changes"]) -> dict[str, Any]:
    """Queue the signed webhook when the app has a callback URL and the account subscribed to `comments`."""
    if sandbox.webhooks.config is None:
        return {"sent": False, "reason": "no webhook configuration (PUT /control/webhooks)", "deliveries": []}
    if "comments" not in sandbox.world.subscriptions.get(user.ig_id, []):
        reason = f"{user.username} has not subscribed the app to 'comments' (POST /me/subscribed_apps)"
        return {"sent": False, "reason": reason, "deliveries": []}
    entry = make_entry(user.ig_id, "comments", _value(comment), envelope, sandbox.timestamp())
    deliveries = sandbox.webhooks.enqueue([entry])
    return {"sent": True, "deliveries": [d.describe() for d in deliveries], "entry": entry}


def _describe(comment: Comment) -> dict[str, Any]:
    return {**_value(comment), "timestamp": graph_time(comment.timestamp)}


@router.post("/comments", status_code=201)
async def fan_comment(body: FanCommentBody, sandbox: SandboxDep) -> dict[str, Any]:
    """A fan comments on (or, with `parent_id`, replies under a comment on) the account's media: the comment
    shows in `GET /{media-id}/comments` and the `comments` webhook goes to the app."""
    user = _event_user(sandbox, body.username, body.user_id)
    author = _fan(body.from_username)
    media = _media(sandbox, user, body.media_id)
    if body.parent_id:
        comment = _reply(sandbox, media, body.parent_id, author=author, text=body.text)
    else:
        comment = new_comment(sandbox, media, author=author, author_id=scoped_id(author), text=body.text)
    return {"comment": _describe(comment), "webhook": _send(sandbox, user, comment, body.envelope)}


@router.post("/mentions", status_code=201)
async def fan_mention(body: FanMentionBody, sandbox: SandboxDep) -> dict[str, Any]:
    """A fan @mentions the account in a comment on the fan's own media; the app hears it as a `comments` event
    (Instagram Login has no separate `mentions` field)."""
    user = _event_user(sandbox, body.username, body.user_id)
    author = _fan(body.from_username)
    handle = f"@{user.username}"
    text = body.text or f"{handle} you have to see this!"
    if handle.lower() not in text.lower():
        text = f"{handle} {text}"
    world = sandbox.world
    media_id = (body.media_id or "").strip() or world.new_id("179")
    if media_id in world.media:
        raise HTTPException(status_code=400, detail="media_id: that media is an account's, not a fan's")
    comment = Comment(
        id=world.new_id("18"),
        media_id=media_id,
        media_product_type="FEED",
        text=text[:MAX_COMMENT_CHARS],
        username=author,
        from_id=scoped_id(author),
        timestamp=sandbox.now(),
        media_owner_id=None,
        mentions=user.ig_id,
    )
    world.add_comment(comment)
    return {"comment": _describe(comment), "webhook": _send(sandbox, user, comment, body.envelope)}
