"""The queries of the first-comment step: claiming a published post to comment on it, and finding those due.

(Beside repository.py, which holds every other publishing query, for its size.) Functions take the caller's
session and only flush.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.publishing.models import FirstCommentStatus, Post, PostStatus


def _due(now: datetime, horizon: timedelta) -> ColumnElement[bool]:
    """Published posts whose first comment waits, due within `horizon`, that no runner holds."""
    return and_(
        Post.status == PostStatus.PUBLISHED,
        Post.first_comment_status == FirstCommentStatus.PENDING,
        or_(Post.lease_until.is_(None), Post.lease_until < now),
        or_(Post.first_comment_due_at.is_(None), Post.first_comment_due_at <= now + horizon),
    )


async def claim(session: AsyncSession, post_id: int, owner: str, lease_until: datetime, now: datetime) -> bool:
    """Take the lease on a published post whose first comment is due and that nobody holds (one atomic UPDATE)."""
    result = await session.execute(
        update(Post)
        .where(Post.id == post_id, _due(now, timedelta(0)))
        .values(lease_until=lease_until, lease_owner=owner)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def due(
    session: AsyncSession, now: datetime, horizon: timedelta, *, limit: int, skip_locked: bool
) -> list[tuple[int, datetime | None]]:
    """(id, due time) of the published posts whose first comment is due within `horizon` and not being posted."""
    query = select(Post.id, Post.first_comment_due_at).where(_due(now, horizon))
    query = query.order_by(Post.first_comment_due_at).limit(limit)
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=Post)
    return [(row.id, row.first_comment_due_at) for row in await session.execute(query)]
