"""Validators that chain: a post id becomes the caller's own post, or a 404 (like `OwnedAccount`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import CurrentUser
from app.dependencies import SessionDep
from app.errors import NotFound
from app.ids import DbId
from app.publishing import repository
from app.publishing.models import Post


async def get_owned_post(session: SessionDep, user: CurrentUser, db_id: int) -> Post:
    """The caller's post with this id; another user's post is indistinguishable from a missing one."""
    post = await repository.get_owned(session, user.id, db_id)
    if post is None:
        raise NotFound("Post not found", code="post_not_found")
    return post


async def owned_post_from_path(session: SessionDep, user: CurrentUser, db_id: Annotated[DbId, Path()]) -> Post:
    return await get_owned_post(session, user, db_id)


OwnedPost = Annotated[Post, Depends(owned_post_from_path)]
