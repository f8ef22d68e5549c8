"""insights.refreshed: one event per account per background refresh run. The one place insights talk to
`app.events`."""

from __future__ import annotations

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


async def record_run(session: AsyncSession, run: AccountRun) -> None:
    """The account's insights.refreshed, if the run tried any of its posts (a skipped account has nothing to say)."""
    if run.refreshed + run.failed == 0:
        return
    data = InsightsRefreshed(
        account_id=run.account.id,
        username=run.account.username,
        post_count=run.refreshed,
        failed_count=run.failed,
        refreshed_at=utcnow(),
    )
    await events.record(session, user_id=run.account.user_id, type="insights.refreshed", data=data)
