"""An account's Instagram webhook subscription (`/me/subscribed_apps`): made on connect, retried by the token job,
removed on disconnect. None of it ever fails the connection or the disconnection: a failure is recorded on the
account (`webhooks: "failed"`) and retried."""

from __future__ import annotations

import logging
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import instagram as ig
from app.accounts import service
from app.accounts.models import Account, AccountStatus
from app.context import AppContext
from app.db import unit_of_work

logger = logging.getLogger(__name__)


class Subscription(StrEnum):
    SUBSCRIBED = "subscribed"
    FAILED = "failed"


async def subscribe(ctx: AppContext, token: str) -> tuple[Subscription, str | None]:
    """Subscribe the token's account to the `comments` field; the outcome and, when it failed, why."""
    try:
        await ctx.instagram.subscribe_webhooks(token)
    except ig.InstagramError as exc:  # its text is already scrubbed of the token and the app secret
        return Subscription.FAILED, str(exc)[:1000]
    return Subscription.SUBSCRIBED, None


def apply(account: Account, outcome: tuple[Subscription, str | None]) -> None:
    account.webhook_subscription, account.webhook_subscription_error = outcome


async def retry_failed(ctx: AppContext) -> tuple[int, int]:
    """Subscribe the active accounts not subscribed yet (failed before, or connected before webhooks existed):
    `(subscribed now, failed again)`."""
    async with ctx.sessionmaker() as session:
        accounts = (
            await session.scalars(
                select(Account).where(
                    Account.status == AccountStatus.ACTIVE,
                    Account.access_token_encrypted.is_not(None),
                    Account.webhook_subscription.is_distinct_from(Subscription.SUBSCRIBED),
                )
            )
        ).all()
    subscribed = failed = 0
    for account in accounts:
        token = service.access_token(account, ctx.cipher)
        if token is None:
            continue
        state, error = await subscribe(ctx, token)
        async with unit_of_work(ctx.sessionmaker) as session:
            await session.execute(
                update(Account)
                .where(Account.id == account.id)
                .values(webhook_subscription=state, webhook_subscription_error=error)
            )
        if state is Subscription.SUBSCRIBED:
            subscribed += 1
        else:
            failed += 1
            logger.warning("webhook subscription failed again", extra={"account_id": account.id, "error": error})
    return subscribed, failed


async def unsubscribe_before_disconnect(session: AsyncSession, ctx: AppContext, account: Account) -> None:
    """Best effort, while the token still exists: `DELETE /me/subscribed_apps`.

    Skipped when another connected account row (another user of the web app) has the same Instagram account:
    the subscription is the app's, shared by both, and the other one still wants its webhooks.
    """
    token = service.access_token(account, ctx.cipher)
    if token is None or account.status == AccountStatus.DISCONNECTED:
        return
    others = await session.scalar(
        select(Account.id).where(
            Account.ig_user_id == account.ig_user_id,
            Account.id != account.id,
            Account.status != AccountStatus.DISCONNECTED,
        )
    )
    if others is not None:
        return
    # As for every call to Instagram: no transaction (nor pooled connection) held open while it answers.
    await session.commit()
    try:
        await ctx.instagram.unsubscribe_webhooks(token)
    except ig.InstagramError as exc:
        logger.warning("webhook unsubscription failed", extra={"account_id": account.id, "error": str(exc)})
        return
    account.webhook_subscription = None
    account.webhook_subscription_error = None
