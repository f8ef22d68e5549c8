"""Every query of publishing: posts and idempotency keys (their prepared media assets: asset_queries.py).

Functions take the caller's session and only flush: whoever opened the unit of work commits it (the
request's boundary, a phase of the publishing request, or one step of the state machine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, CursorResult, Table, and_, bindparam, case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.events.models import Event
from app.publishing import asset_queries
from app.publishing import events as post_events
from app.publishing.media_items import MediaItem
from app.publishing.models import ACTIVE_STATUSES, IdempotencyKey, Post, PostStatus
from app.uploads import service as uploads_service

# A scheduled post this close to its time is started now rather than deferred for a moment.
SCHEDULE_TOLERANCE = timedelta(seconds=1)
# Why a post was cancelled, as its post.cancelled event says it.
USER_CANCELLED = "cancelled by the user"
ACCOUNT_DISCONNECTED = "account disconnected"


def _changed(result: object) -> int:
    """Rows an UPDATE or DELETE touched (`session.execute` is typed as returning a plain Result)."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


# --- reading posts -----------------------------------------------------------------------------------


async def get(session: AsyncSession, post_id: int) -> Post | None:
    return await session.scalar(select(Post).where(Post.id == post_id))


async def get_owned(session: AsyncSession, user_id: str, post_id: int) -> Post | None:
    """The user's post with this id, or None (another user's post is None too)."""
    return await session.scalar(select(Post).where(Post.id == post_id, Post.user_id == user_id))


async def get_many(session: AsyncSession, post_ids: Sequence[int]) -> list[Post]:
    """The posts with these ids, in the order asked."""
    result = await session.scalars(select(Post).where(Post.id.in_(post_ids)))
    by_id = {post.id: post for post in result.all()}
    return [by_id[i] for i in post_ids if i in by_id]


async def of_idempotency_key(session: AsyncSession, key_id: int) -> list[Post]:
    """The posts a request made, in the order it made them."""
    result = await session.scalars(select(Post).where(Post.idempotency_key_id == key_id).order_by(Post.id))
    return list(result.all())


async def statuses(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(Post.id, Post.status).where(Post.id.in_(post_ids)))
    return {row.id: row.status for row in rows}


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


def due_filter(now: datetime, horizon: timedelta) -> ColumnElement[bool]:
    """Posts a runner should look at: active, not leased, and due within `horizon`."""
    return and_(
        Post.status.in_(ACTIVE_STATUSES),
        or_(Post.lease_until.is_(None), Post.lease_until < now),
        or_(Post.next_attempt_at.is_(None), Post.next_attempt_at <= now + horizon),
    )


async def due(
    session: AsyncSession, now: datetime, horizon: timedelta, *, limit: int, skip_locked: bool
) -> list[tuple[int, datetime | None]]:
    """(id, next attempt) of the posts due within `horizon`, soonest first; with `skip_locked`, only rows no
    other transaction holds (so several sweepers share the work)."""
    query = select(Post.id, Post.next_attempt_at).where(due_filter(now, horizon)).order_by(Post.next_attempt_at)
    query = query.limit(limit)
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=Post)
    return [(row.id, row.next_attempt_at) for row in await session.execute(query)]


# --- the state machine's writes ------------------------------------------------------------------------


async def claim(session: AsyncSession, post_id: int, owner: str, lease_until: datetime, now: datetime) -> bool:
    """Take the lease on an active post nobody holds (an atomic UPDATE); a due scheduled post becomes pending
    and the first run counts as the first attempt. False when it is final or held."""
    result = await session.execute(
        update(Post)
        .where(
            Post.id == post_id,
            Post.status.in_(ACTIVE_STATUSES),
            (Post.lease_until.is_(None)) | (Post.lease_until < now),
        )
        .values(
            lease_until=lease_until,
            lease_owner=owner,
            status=case(
                (
                    and_(Post.status == PostStatus.SCHEDULED, Post.scheduled_at <= now + SCHEDULE_TOLERANCE),
                    PostStatus.PENDING,
                ),
                else_=Post.status,
            ),
            attempts=case((Post.attempts == 0, 1), else_=Post.attempts),
        )
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


_POSTS = Post.__table__
assert isinstance(_POSTS, Table)
# The state machine's every write, built once: a Core UPDATE whose SET clause is the parameters' columns (built
# per write through the ORM, it cost more CPU than its round trip).
_UPDATE_LEASED = update(_POSTS).where(
    _POSTS.c.id == bindparam("leased_post_id"), _POSTS.c.lease_owner == bindparam("leased_owner")
)


async def update_leased(session: AsyncSession, post_id: int, owner: str, values: Mapping[str, object]) -> bool:
    """Write `values` (column: value) if `owner` still holds the post's lease; False when another runner took
    it over."""
    result = await session.execute(_UPDATE_LEASED, {"leased_post_id": post_id, "leased_owner": owner, **values})
    return _changed(result) == 1


async def renew_leases(session: AsyncSession, post_ids: Sequence[int], owner: str, lease_until: datetime) -> int:
    """Extend `owner`'s lease on those of the posts it still holds; how many those are."""
    result = await session.execute(
        update(Post)
        .where(Post.id.in_(post_ids), Post.lease_owner == owner)
        .values(lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


_SET_PERMALINK = update(_POSTS).where(_POSTS.c.id == bindparam("permalink_post_id"))


async def set_permalink(session: AsyncSession, post_id: int, permalink: str) -> None:
    await session.execute(_SET_PERMALINK, {"permalink_post_id": post_id, "permalink": permalink})


async def published_times(session: AsyncSession, account_id: int, since: datetime) -> list[datetime]:
    """When this service published for the account since then, oldest first (the quota's rolling window)."""
    result = await session.scalars(
        select(Post.published_at)
        .where(Post.account_id == account_id, Post.published_at > since)
        .order_by(Post.published_at)
    )
    return [published for published in result.all() if published is not None]


async def claimed_media_ids(session: AsyncSession, account_id: int, media_ids: Sequence[str]) -> set[str]:
    """Which of these Instagram media ids a post of the account already holds."""
    result = await session.scalars(
        select(Post.media_id).where(Post.account_id == account_id, Post.media_id.in_(media_ids))
    )
    return {media_id for media_id in result.all() if media_id is not None}


async def finished(
    session: AsyncSession,
    posts: Sequence[Post],
    status: str,
    *,
    settings: Settings | None = None,
    reason: str = "",
    release_assets: bool = True,
    username: str | None = None,
) -> Event | None:
    """What goes with posts reaching a final state (published, failed, cancelled), in the transaction that
    writes it — the one place for it, whoever wrote the state:
    - its event (the outbox): post.published or post.failed from the post as written (`settings`: how long a
      post.published waits for its permalink), or post.cancelled with `reason`;
    - its prepared media released, unless a retry may still need them;
    - once published, its uploads expire at once (unless kept, or another unfinished post uses them).
    `username`: the posts' account's, when the caller has it (one account's posts only), saving a read.
    Returns the last event recorded (a post.published is completed by `events.permalink_known`)."""
    event: Event | None = None
    for post in posts:
        if release_assets:
            await asset_queries.release_assets_of(session, post.id)
        if status == PostStatus.PUBLISHED:
            await uploads_service.published(session, post.id)
        if status == PostStatus.CANCELLED:
            await post_events.record_cancelled(session, post, reason)
        else:
            assert settings is not None, "a runner's final state needs the settings"
            event = await post_events.record_final(session, post, settings, username)
    return event


# --- retrying and cancelling ---------------------------------------------------------------------------


async def reset_failed(session: AsyncSession, post: Post, media: list[MediaItem] | None) -> bool:
    """Put a failed post back in line (with re-prepared `media` when given); False when it is no longer failed."""
    now = utcnow()
    values: dict[str, object] = {
        "status": PostStatus.CONTAINER_CREATED if post.container_id else PostStatus.PENDING,
        "error": None,
        "error_code": None,
        "retryable": False,
        "next_attempt_at": now,
        "updated_at": now,
        "attempts": Post.attempts + 1,
    }
    if media is not None:
        values["media"] = media
    result = await session.execute(
        update(Post)
        .where(Post.id == post.id, Post.status == PostStatus.FAILED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


def _cancelled(error: str, now: datetime) -> dict[str, object]:
    return {
        "status": PostStatus.CANCELLED,
        "error": error,
        "error_code": "cancelled",
        "next_attempt_at": None,
        "updated_at": now,
    }


async def cancel(session: AsyncSession, post: Post) -> bool:
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
        .values(**_cancelled(USER_CANCELLED, now))
        .execution_options(synchronize_session=False)
    )
    if _changed(result) != 1:
        return False
    await session.refresh(post)
    await finished(session, [post], PostStatus.CANCELLED, reason=USER_CANCELLED)
    return True


async def cancel_posts_of_account(session: AsyncSession, account_id: int) -> int:
    """Cancel the account's posts that have not been published and are not being published right now.

    Without the token nothing else could happen to them; a post a runner holds at this moment finishes
    with what it has (its runner sees the account disconnected, or has already published it).
    """
    now = utcnow()
    held = or_(Post.lease_until.is_(None), Post.lease_until < now)
    posts = list(
        (
            await session.scalars(
                select(Post).where(Post.account_id == account_id, Post.status.in_(ACTIVE_STATUSES), held)
            )
        ).all()
    )
    if not posts:
        return 0
    # RETURNING: only what this statement cancelled is finished (a runner may have moved a post meanwhile).
    cancelled = set(
        (
            await session.scalars(
                update(Post)
                .where(Post.id.in_([post.id for post in posts]), Post.status.in_(ACTIVE_STATUSES))
                .values(**_cancelled(f"cancelled: {ACCOUNT_DISCONNECTED}", now))
                .returning(Post.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    await finished(
        session, [post for post in posts if post.id in cancelled], PostStatus.CANCELLED, reason=ACCOUNT_DISCONNECTED
    )
    return len(cancelled)


# --- idempotency keys --------------------------------------------------------------------------------


async def find_key(session: AsyncSession, user_id: str, key: str) -> IdempotencyKey | None:
    """The live record for this key (an expired one is deleted and reads as absent)."""
    record = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if record is not None and record.expires_at <= utcnow():
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
        await session.flush()
        return None
    return record


async def add_key(session: AsyncSession, record: IdempotencyKey) -> None:
    """Add the key to the unit of work (a concurrent duplicate fails at commit: IntegrityError)."""
    session.add(record)
    await session.flush()


async def store_answer(session: AsyncSession, key_id: int, status: int, body: object) -> None:
    await session.execute(
        update(IdempotencyKey).where(IdempotencyKey.id == key_id).values(response_status=status, response_body=body)
    )


async def delete_expired_keys(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= utcnow()).execution_options(synchronize_session=False)
    )
    return _changed(result)
