"""Validators for the comments routes: the caller's published post, and the caller's comment."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import CurrentUser
from app.comments import flows
from app.dependencies import ContextDep, SessionDep

CommentIdPath = Annotated[
    str,
    Path(
        max_length=64,
        pattern=r"^[0-9A-Za-z_]+$",
        description="Instagram's comment id (`comment_id` in the answers)",
        examples=["17858893269000001"],
    ),
]


async def owned_comment(
    session: SessionDep, ctx: ContextDep, user: CurrentUser, comment_id: CommentIdPath
) -> flows.OwnedComment:
    """The caller's comment, found in the stored comments or, failing that, on Instagram; else a 404."""
    return await flows.owned_comment(session, ctx, user.id, comment_id)


OwnedComment = Annotated[flows.OwnedComment, Depends(owned_comment)]
