"""Queries and state changes of posts. Functions taking a session only flush; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import unit_of_work, utcnow
from app.publishing import events as post_events
from app.publishing.models import ACTIVE_STATUSES, MediaAsset, Post, PostAsset, PostStatus
from app.publishing.schemas import PostOut


def to_post_out(post: Post) -> PostOut:
    return PostOut(
        db_id=post.id,
        account_id=post.account_id,
        kind=post.kind,
        status=post.status,
        post_id=post.media_id,
        permalink=post.permalink,
        caption=post.caption,
        container_id=post.container_id,
        scheduled_at=post.scheduled_at,
        published_at=post.published_at,
        error=post.error,
        error_code=post.error_code,
        retryable=post.status == PostStatus.FAILED and post.retryable,
        attempts=post.attempts,
        next_attempt_at=post.next_attempt_at if post.status in ACTIVE_STATUSES else None,
        batch_id=post.batch_id,
        created_at=post.created_at,
        updated_at=post.updated_at,
        media=[
            {k: v for k, v in item.items() if k in ("type", "source_url", "alt_text", "role")} for item in post.media
        ],
    )


async def get_owned(session: AsyncSession, user_id: str, post_id: int) -> Post | None:
    """The user's post with this id, or None (another user's post is None too)."""
    return await session.scalar(select(Post).where(Post.id == post_id, Post.user_id == user_id))


async def get_many(sessionmaker: async_sessionmaker[AsyncSession], post_ids: Sequence[int]) -> list[Post]:
    async with sessionmaker() as session:
        result = await session.scalars(select(Post).where(Post.id.in_(post_ids)))
        by_id = {p.id: p for p in result.all()}
    return [by_id[i] for i in post_ids if i in by_id]


async def list_owned(
    session: AsyncSession,
    user_id: str,
    *,
    account_id: int | None,
    status: str | None,
    kind: str | None,
    before_id: int | None,
    limit: int,
) -> tuple[list[Post], int | None]:
    """Newest first; returns a page and the cursor (an id) for the next one."""
    query = select(Post).where(Post.user_id == user_id)
    if account_id is not None:
        query = query.where(Post.account_id == account_id)
    if status is not None:
        query = query.where(Post.status == status)
    if kind is not None:
        query = query.where(Post.kind == kind)
    if before_id is not None:
        query = query.where(Post.id < before_id)
    rows = list((await session.scalars(query.order_by(Post.id.desc()).limit(limit + 1))).all())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


def new_post(
    *,
    user_id: str,
    account_id: int,
    kind: str,
    caption: str | None,
    request: dict[str, Any],
    media: list[dict[str, Any]],
    scheduled_at: datetime | None,
    batch_id: str | None = None,
    idempotency_key_id: int | None = None,
) -> Post:
    now = utcnow()
    return Post(
        user_id=user_id,
        account_id=account_id,
        kind=kind,
        status=PostStatus.SCHEDULED if scheduled_at else PostStatus.PENDING,
        caption=caption,
        request=request,
        media=media,
        children=[],
        scheduled_at=scheduled_at,
        next_attempt_at=scheduled_at or now,
        batch_id=batch_id,
        idempotency_key_id=idempotency_key_id,
        attempts=0,
        retryable=False,
        created_at=now,
        updated_at=now,
    )


async def cancel_post(session: AsyncSession, post: Post) -> bool:
    """Cancel a post that has not started publishing; False when it is too late (or already final)."""
    now = utcnow()
    result = await session.execute(
        update(Post)
        .where(
            Post.id == post.id,
            Post.status.in_((PostStatus.SCHEDULED, PostStatus.PENDING)),
            Post.container_id.is_(None),
            or_(Post.lease_until.is_(None), Post.lease_until < now),
        )
        .values(
            status=PostStatus.CANCELLED,
            error="cancelled by the user",
            error_code="cancelled",
            next_attempt_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(post)
    await release_assets(session, post.id)
    await post_events.record_cancelled(session, post, "cancelled by the user")
    return True


async def cancel_posts_of_account(session: AsyncSession, account_id: int, *, reason: str) -> int:
    """Cancel the account's posts that have not been published and are not being published right now.

    Without the token nothing else could happen to them; a post a runner holds at this moment finishes
    with what it has (its runner sees the account disconnected, or has already published it).
    """
    now = utcnow()
    posts = list(
        (
            await session.scalars(
                select(Post).where(
                    Post.account_id == account_id,
                    Post.status.in_(ACTIVE_STATUSES),
                    or_(Post.lease_until.is_(None), Post.lease_until < now),
                )
            )
        ).all()
    )
    if not posts:
        return 0
    # RETURNING: only what this statement cancelled gets its event (a runner may have moved one meanwhile).
    cancelled = set(
        (
            await session.scalars(
                update(Post)
                .where(Post.id.in_([p.id for p in posts]), Post.status.in_(ACTIVE_STATUSES))
                .values(
                    status=PostStatus.CANCELLED,
                    error=f"cancelled: {reason}",
                    error_code="cancelled",
                    next_attempt_at=None,
                    updated_at=now,
                )
                .returning(Post.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    for post in posts:
        if post.id in cancelled:
            await release_assets(session, post.id)
            await post_events.record_cancelled(session, post, reason)
    return len(cancelled)


# --- media assets ------------------------------------------------------------------------------------


async def release_assets(session: AsyncSession, post_id: int) -> None:
    """Forget which assets the post used, and delete those no other unfinished post needs."""
    asset_ids = list((await session.scalars(select(PostAsset.asset_id).where(PostAsset.post_id == post_id))).all())
    if not asset_ids:
        return
    await session.execute(delete(PostAsset).where(PostAsset.post_id == post_id))
    still_used = select(PostAsset.asset_id).where(PostAsset.asset_id == MediaAsset.id)
    await session.execute(
        delete(MediaAsset)
        .where(MediaAsset.id.in_(asset_ids), ~exists(still_used))
        .execution_options(synchronize_session=False)
    )


async def delete_expired_assets(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Assets past their expiry, whoever used them (a failed post re-prepares its media on retry)."""
    async with unit_of_work(sessionmaker) as session:
        result = await session.execute(
            delete(MediaAsset).where(MediaAsset.expires_at < utcnow()).execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def assets_present(session: AsyncSession, post: Post) -> bool:
    asset_ids = [item["asset_id"] for item in post.media if item.get("asset_id")]
    if not asset_ids:
        return True
    found = await session.scalars(select(MediaAsset.id).where(MediaAsset.id.in_(asset_ids)))
    return len(set(found.all())) == len(set(asset_ids))


def due_filter(now: datetime, horizon: timedelta) -> Any:
    """Posts a runner should look at: active, not leased, and due within `horizon`."""
    return and_(
        Post.status.in_(ACTIVE_STATUSES),
        or_(Post.lease_until.is_(None), Post.lease_until < now),
        or_(Post.next_attempt_at.is_(None), Post.next_attempt_at <= now + horizon),
    )
