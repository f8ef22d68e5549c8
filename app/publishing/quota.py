"""Instagram's publishing quota (posts per rolling 24 hours), read before publishing.

A full quota is a wait until a slot frees up, never a failed call at Instagram: a job defers the post, a
request answers 429 saying when (the state machine decides which).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import failures
from app.context import AppContext
from app.db import utcnow
from app.failures import Failure
from app.publishing import repository
from app.publishing.outcomes import Wait

MIN_WAIT_SECONDS = 60.0


async def check(ctx: AppContext, token: str, ig_user_id: str, account_id: int) -> Wait | None:
    """None while the account may publish; a quota wait when it may not (Instagram's errors propagate)."""
    limit = await ctx.instagram.get_publishing_limit(token, ig_user_id)
    if limit.remaining > 0:
        return None
    return await full(ctx.sessionmaker, account_id, limit.quota_usage, limit.quota_total)


async def full(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, usage: int | None = None, total: int | None = None
) -> Wait:
    """Wait until a slot frees up, saying when (and how full the quota is, when Instagram said)."""
    frees_at = await _frees_at(sessionmaker, account_id, total)
    seconds = max(MIN_WAIT_SECONDS, (frees_at - utcnow()).total_seconds())
    counts = f" ({usage} of {total} posts in 24 hours)" if usage is not None and total else ""
    message = (
        f"Instagram's publishing limit for this account is reached{counts}. "
        f"It frees up around {frees_at.strftime('%Y-%m-%dT%H:%MZ')}."
    )
    return Wait(seconds, "quota", Failure.of(failures.QUOTA_EXCEEDED, message=message, retry_after=seconds))


async def _frees_at(sessionmaker: async_sessionmaker[AsyncSession], account_id: int, total: int | None) -> datetime:
    """When the rolling 24-hour window frees a slot, judging by what this service published."""
    now = utcnow()
    async with sessionmaker() as session:
        published = await repository.published_times(session, account_id, now - timedelta(days=1))
    if published and (total is None or len(published) >= total):
        return published[0] + timedelta(days=1)
    return now + timedelta(hours=1)
