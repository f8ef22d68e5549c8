"""Validators for the insights routes: the caller's post, and the caller's published post."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.auth.dependencies import CurrentUser
from app.dependencies import SessionDep
from app.errors import Conflict
from app.ids import DbId
from app.publishing.dependencies import get_owned_post
from app.publishing.models import Post, PostStatus

PostId = Annotated[DbId, Path(description="The post's db_id")]


async def owned_post(session: SessionDep, user: CurrentUser, db_id: PostId) -> Post:
    return await get_owned_post(session, user, db_id)


async def published_post(session: SessionDep, user: CurrentUser, db_id: PostId) -> Post:
    """The caller's post, published and with its media id known (insights exist only then), or a 409.

    It looks the post up itself rather than depending on `owned_post`: one level of dependency solving less."""
    post = await get_owned_post(session, user, db_id)
    if post.status != PostStatus.PUBLISHED:
        raise Conflict(f"Post is not published yet (status: {post.status})", code="not_published")
    if post.media_id is None:
        raise Conflict(
            "Post was published but Instagram did not return its media id, so it has no insights",
            code="media_id_unknown",
        )
    return post


InsightsPost = Annotated[Post, Depends(owned_post)]
PublishedPost = Annotated[Post, Depends(published_post)]
