"""insights.refreshed: one event per account per background refresh run. The one place insights talk to
`app.events`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.accounts.models import Account
from app.db import utcnow
from app.events.types import InsightsRefreshed


@dataclass
class AccountRun:
    """What one refresh run did for one account."""

    account: Account
    refreshed: int = 0
    failed: int = 0


async def record_runs(session: AsyncSession, runs: Iterable[AccountRun]) -> None:
    """An insights.refreshed per account whose posts the run tried (skipped accounts have nothing to say)."""
    now = utcnow()
    for run in runs:
        if run.refreshed + run.failed == 0:
            continue
        data = InsightsRefreshed(
            account_id=run.account.id,
            username=run.account.username,
            post_count=run.refreshed,
            failed_count=run.failed,
            refreshed_at=now,
        )
        await events.record(session, user_id=run.account.user_id, type="insights.refreshed", data=data)
