"""Account jobs: the daily token refresh (long-lived tokens renewed well before their 60 days run out, example 4)
and the hourly purge of spent OAuth states."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from app import instagram as ig
from app.accounts import oauth_state, service, subscriptions
from app.accounts.models import Account, AccountStatus
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.observability.metrics import REFRESH_FAILURES
from app.progress import ProgressCallback

logger = logging.getLogger(__name__)

# Instagram refuses to refresh a token younger than 24 hours.
MIN_TOKEN_AGE = timedelta(hours=24)


@dataclass
class TokenReport:
    refreshed: int = 0
    dead: int = 0
    failed: int = 0
    # Webhook subscriptions retried (accounts whose subscription failed, or was never made).
    webhooks_subscribed: int = 0
    webhooks_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


async def refresh_expiring_tokens(ctx: AppContext, progress: ProgressCallback | None = None) -> TokenReport:
    """Refresh active tokens at least 24 h old that expire within TOKEN_REFRESH_WITHIN_DAYS (10).

    A token Instagram refuses (or one already expired, which can no longer be refreshed) marks its
    account needs_reauth; other failures are retried at the next run, days before expiry.
    """
    now = utcnow()
    horizon = now + timedelta(days=ctx.settings.token_refresh_within_days)
    async with ctx.sessionmaker() as session:
        accounts = list(
            (
                await session.scalars(
                    select(Account)
                    .where(
                        Account.status == AccountStatus.ACTIVE,
                        Account.access_token_encrypted.is_not(None),
                        or_(Account.token_expires_at.is_(None), Account.token_expires_at <= horizon),
                    )
                    .order_by(Account.token_expires_at)
                )
            ).all()
        )
    report = TokenReport()
    for index, account in enumerate(accounts, start=1):
        last_issued = account.token_refreshed_at or account.token_issued_at or account.created_at
        if now - last_issued < MIN_TOKEN_AGE:
            if progress:
                progress(index, len(accounts), f"account {account.id}: too recent to refresh")
            continue
        if account.token_expires_at is not None and account.token_expires_at <= now:
            await service.mark_needs_reauth(
                ctx.sessionmaker, account.id, "the token expired before it was refreshed", cause="token_refresh"
            )
            report.dead += 1
            if progress:
                progress(index, len(accounts), f"account {account.id}: {report.as_dict()}")
            continue
        token = service.access_token(account, ctx.cipher)
        assert token is not None
        try:
            fresh = await ctx.instagram.refresh_token(token)
        except ig.TokenInvalid as exc:
            await service.mark_needs_reauth(ctx.sessionmaker, account.id, exc.message, cause="token_refresh")
            report.dead += 1
            REFRESH_FAILURES.labels("tokens").inc()
        except ig.InstagramError as exc:
            report.failed += 1
            REFRESH_FAILURES.labels("tokens").inc()
            logger.warning("token refresh failed", extra={"account_id": account.id, "error": str(exc)})
        else:
            refreshed_at = utcnow()
            async with unit_of_work(ctx.sessionmaker) as session:
                await session.execute(
                    update(Account)
                    .where(Account.id == account.id, Account.status == AccountStatus.ACTIVE)
                    .values(
                        access_token_encrypted=ctx.cipher.encrypt(fresh.access_token.get_secret_value()),
                        token_expires_at=fresh.expires_at(refreshed_at),
                        token_refreshed_at=refreshed_at,
                        updated_at=refreshed_at,
                    )
                )
            report.refreshed += 1
        if progress:
            progress(index, len(accounts), f"account {account.id}: {report.as_dict()}")
    report.webhooks_subscribed, report.webhooks_failed = await subscriptions.retry_failed(ctx)
    logger.info("token refresh finished", extra=report.as_dict())
    return report


async def refresh_tokens(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily: refresh the long-lived tokens that would expire within 10 days, and retry failed webhook
    subscriptions."""
    app: AppContext = ctx["app"]
    return (await refresh_expiring_tokens(app)).as_dict()


async def purge_oauth_states(ctx: dict[str, Any]) -> int:
    """Hourly: drop spent OAuth states a day past their expiry (single use needs them only until then)."""
    app: AppContext = ctx["app"]
    async with unit_of_work(app.sessionmaker) as session:
        return await oauth_state.delete_spent(session, expired_before=utcnow() - timedelta(days=1))
