"""Crash recovery in seconds: posts whose runner is gone are handed to the next one.

A runner (a worker's job, or a request publishing inline) keeps its lease alive while it works
(`lease.kept_alive`); a lease that ran out therefore means its runner died — a SIGKILLed or OOM-killed
worker, an API process that crashed mid-request. Every 5 seconds `recover_posts` takes such posts back (their
lease cleared in one atomic UPDATE, so only one recovery takes each, and a runner that was merely stalled
finds its lease lost at its next write) and hands them to the queue. The dead worker's arq job is still
queued, but arq marks it "in progress" for the worker-wide job timeout + 10 s (130 s by default) and runs it
nowhere meanwhile: the mark is dropped (`JobQueue.release`) so that a live worker runs it at its next poll.
The new run reads the post's saved state and reconciles whatever the dead one may have sent (DESIGN §4), so
nothing is published twice.

Posts long overdue with no runner at all are handed over the same way: a worker killed between deferring a
post and arq re-queueing its job leaves that job marked in progress too, and posts stored while Redis was
down have no job yet.

Its one query lives here, with the only code that uses it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.publishing.models import ACTIVE_STATUSES, Post
from app.publishing.running import enqueue, job_id

logger = logging.getLogger(__name__)

# A post this late with no runner has lost its job: a live worker starts a due job within a poll (0.1 s).
OVERDUE = timedelta(seconds=20)
RECOVERY_BATCH = 100


async def take_back(
    session: AsyncSession, now: datetime, *, overdue_before: datetime, limit: int
) -> tuple[list[int], list[int]]:
    """The active posts whose runner is gone (their dead leases cleared), and those overdue with no runner."""
    dead = and_(Post.status.in_(ACTIVE_STATUSES), Post.lease_owner.is_not(None), Post.lease_until < now)
    # Read first: the common answer is "none", and then nothing is written (SQLite locks for any UPDATE).
    taken = list((await session.scalars(select(Post.id).where(dead).limit(limit))).all())
    if taken:
        cleared = await session.scalars(
            update(Post)
            .where(Post.id.in_(taken), dead)
            .values(lease_owner=None, lease_until=None)
            .returning(Post.id)
            .execution_options(synchronize_session=False)
        )
        taken = list(cleared.all())
    overdue = (
        select(Post.id)
        .where(Post.status.in_(ACTIVE_STATUSES), Post.lease_owner.is_(None), Post.next_attempt_at < overdue_before)
        .order_by(Post.next_attempt_at)
        .limit(limit)
    )
    return taken, [post_id for post_id in (await session.scalars(overdue)).all() if post_id not in taken]


async def recover_abandoned(ctx: AppContext) -> list[int]:
    """Hand the posts whose runner is gone to the queue, their dead jobs released; the ids of those taken
    over (an overdue post whose job is merely waiting behind others is left to it)."""
    now = utcnow()
    async with unit_of_work(ctx.sessionmaker) as session:
        abandoned, overdue = await take_back(session, now, overdue_before=now - OVERDUE, limit=RECOVERY_BATCH)
    recovered: list[int] = []
    for post_id in [*abandoned, *overdue]:
        released = await ctx.jobs.release(job_id(post_id))
        enqueued = await enqueue(ctx, post_id)
        if post_id in abandoned or released or enqueued:
            recovered.append(post_id)
    if recovered:
        logger.warning("posts handed to the queue again: runner or job lost", extra={"post_ids": recovered[:20]})
    return recovered
