"""Publishing jobs: `publish_post` (one post forward; deferred with arq.Retry) and the minute sweeper."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from arq import Retry
from sqlalchemy import delete, select

from app.accounts.models import OAuthStateUse
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.publishing import idempotency, service
from app.publishing.flows import PUBLISH_JOB, job_id
from app.publishing.models import Post
from app.publishing.publisher import Mode, advance_post

logger = logging.getLogger(__name__)

SWEEP_HORIZON = timedelta(seconds=75)
SWEEP_BATCH = 500


async def publish_post(ctx: dict[str, Any], post_id: int) -> str:
    """Move one post forward; waits (processing, schedule, quota, retry) come back as a deferred retry."""
    app: AppContext = ctx["app"]
    outcome = await advance_post(app, post_id, Mode.BACKGROUND)
    if outcome.kind in ("deferred", "busy"):
        raise Retry(defer=timedelta(seconds=outcome.defer_seconds))
    return outcome.kind


async def sweep_posts(ctx: dict[str, Any]) -> int:
    """Every minute: enqueue every unfinished post that is due (or about to be) and not being worked on.

    The database is the truth; this is what makes a lost job, a flushed Redis or a killed process
    harmless. Enqueueing is idempotent (one job id per post). Also drops expired prepared media,
    idempotency keys and spent OAuth states.
    """
    app: AppContext = ctx["app"]
    now = utcnow()
    enqueued = 0
    async with unit_of_work(app.sessionmaker) as session:
        query = (
            select(Post.id, Post.next_attempt_at)
            .where(service.due_filter(now, SWEEP_HORIZON))
            .order_by(Post.next_attempt_at)
            .limit(SWEEP_BATCH)
        )
        if not app.settings.is_sqlite:
            # Several workers may sweep at once: each takes the rows the others are not holding.
            query = query.with_for_update(skip_locked=True, of=Post)
        rows = (await session.execute(query)).all()
        for row in rows:
            defer_until = row.next_attempt_at if row.next_attempt_at and row.next_attempt_at > now else None
            if await app.jobs.enqueue(PUBLISH_JOB, row.id, job_id=job_id(row.id), defer_until=defer_until):
                enqueued += 1
    await service.delete_expired_assets(app.sessionmaker)
    await idempotency.delete_expired(app.sessionmaker)
    async with unit_of_work(app.sessionmaker) as session:
        await session.execute(delete(OAuthStateUse).where(OAuthStateUse.expires_at < now - timedelta(days=1)))
    if enqueued:
        logger.info("sweeper enqueued posts", extra={"count": enqueued})
    return enqueued
