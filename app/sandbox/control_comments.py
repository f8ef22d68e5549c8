"""`/control/comments`: every comment the sandbox holds, hidden and deleted ones included (not on Instagram).

Tests and demos check each moderation step here: a reply made, a comment hidden or shown again, deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException

from app.sandbox.dependencies import SandboxDep
from app.sandbox.models import Comment
from app.sandbox.reads import graph_time
from app.sandbox.state import Sandbox

router = APIRouter(prefix="/control/comments", tags=["control"])


def _describe(comment: Comment, deleted_at: datetime | None) -> dict[str, Any]:
    return {
        "id": comment.id,
        "media_id": comment.media_id,
        "media_owner_id": comment.media_owner_id,
        "parent_id": comment.parent_id,
        "text": comment.text,
        "username": comment.username,
        "from_id": comment.from_id,
        "timestamp": graph_time(comment.timestamp),
        "hidden": comment.hidden,
        "replies": list(comment.replies),
        "deleted": deleted_at is not None,
        "deleted_at": deleted_at.isoformat() if deleted_at is not None else None,
    }


def _everything(sandbox: Sandbox) -> list[dict[str, Any]]:
    world = sandbox.world
    described = [_describe(c, None) for c in world.comments.values()]
    described += [_describe(c, when) for c, when in world.deleted_comments.values()]
    return sorted(described, key=lambda c: (c["timestamp"], c["id"]))


@router.get("")
async def list_comments(sandbox: SandboxDep, media_id: str | None = None) -> dict[str, Any]:
    """Every comment and reply, oldest first (optionally on one `media_id`), with `hidden` and `deleted`."""
    data = [c for c in _everything(sandbox) if media_id is None or c["media_id"] == media_id]
    return {"data": data, "count": len(data)}


@router.get("/{comment_id}")
async def get_comment(comment_id: str, sandbox: SandboxDep) -> dict[str, Any]:
    """One comment or reply, deleted or not."""
    world = sandbox.world
    if comment_id in world.comments:
        return _describe(world.comments[comment_id], None)
    if comment_id in world.deleted_comments:
        comment, when = world.deleted_comments[comment_id]
        return _describe(comment, when)
    raise HTTPException(status_code=404, detail=f"no sandbox comment {comment_id!r}")
