"""Publishing jobs: `publish_post` (one post forward; deferred with arq.Retry), the minute sweeper and the
recovery of posts whose runner died (every 5 s)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from arq import Retry

from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.publishing import asset_queries, comment_queries, first_comment, repository
from app.publishing.outcomes import Mode
from app.publishing.recovery import recover_abandoned
from app.publishing.running import enqueue
from app.publishing.state_machine import advance_post

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


async def post_first_comment(ctx: dict[str, Any], post_id: int) -> str:
    """Post a published post's first comment (exactly once); a wait comes back as a deferred retry."""
    app: AppContext = ctx["app"]
    outcome = await first_comment.post_comment(app, post_id)
    if outcome.kind in ("deferred", "busy"):
        raise Retry(defer=timedelta(seconds=outcome.defer_seconds))
    return outcome.kind


async def sweep_posts(ctx: dict[str, Any]) -> int:
    """Every minute: enqueue every unfinished post (and every first comment) that is due (or about to be) and not
    being worked on.

    The database is the truth; this is what makes a lost job, a flushed Redis or a killed process
    harmless. Enqueueing is idempotent (one job id per post). Also drops expired prepared media and
    idempotency keys.
    """
    app: AppContext = ctx["app"]
    now = utcnow()
    enqueued = 0
    async with unit_of_work(app.sessionmaker) as session:
        # Several workers may sweep at once: on PostgreSQL each takes the rows the others are not holding.
        due = await repository.due(
            session, now, SWEEP_HORIZON, limit=SWEEP_BATCH, skip_locked=not app.settings.is_sqlite
        )
        for post_id, next_attempt_at in due:
            if await enqueue(app, post_id, at=next_attempt_at if next_attempt_at and next_attempt_at > now else None):
                enqueued += 1
        # First comments of published posts, due and not being posted (a lost job, a crash after publishing).
        comments = await comment_queries.due(
            session, now, SWEEP_HORIZON, limit=SWEEP_BATCH, skip_locked=not app.settings.is_sqlite
        )
        for post_id, due_at in comments:
            at = due_at if due_at and due_at > now else None
            if await app.jobs.enqueue(first_comment.JOB, post_id, job_id=first_comment.job_id(post_id), defer_until=at):
                enqueued += 1
    async with unit_of_work(app.sessionmaker) as session:
        await asset_queries.delete_expired_assets(session)
        await repository.delete_expired_keys(session)
    if enqueued:
        logger.info("sweeper enqueued posts", extra={"count": enqueued})
    return enqueued


async def recover_posts(ctx: dict[str, Any]) -> int:
    """Every 5 seconds: posts whose runner died (its lease ran out) go to a live worker (see `recovery`)."""
    return len(await recover_abandoned(ctx["app"]))
