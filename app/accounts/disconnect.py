"""Disconnecting an account: the token destroyed, the account marked, and what other domains hold for it stopped.

Other domains depend on accounts, never the reverse: a domain that keeps work for an account (publishing's
unpublished posts) registers what to do with `on_disconnect`, and it runs in the same transaction as the
disconnection, so the account and its posts change together or not at all — with their events
(post.cancelled, then account.disconnected counting them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service
from app.accounts.events import DisconnectCause
from app.accounts.models import Account, AccountStatus
from app.db import utcnow

# Called with the disconnecting transaction's session and the account's id; returns how many posts it cancelled.
DisconnectHandler = Callable[[AsyncSession, int], Awaitable[int]]

_handlers: list[DisconnectHandler] = []

# The account's `status_reason` for each cause.
_REASONS: dict[DisconnectCause, str] = {
    "user": "disconnected by the user",
    "app_removed": "the user removed the app in Instagram",
    "data_deletion": "the user asked Meta to delete their data",
}


def on_disconnect(handler: DisconnectHandler) -> DisconnectHandler:
    """Run `handler` whenever an account is disconnected (registering the same handler twice runs it once)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


async def disconnect_account(session: AsyncSession, account: Account, *, cause: DisconnectCause = "user") -> None:
    """Destroy the token and mark the account disconnected; its history stays, its pending work is stopped.

    Nothing here calls Instagram: Meta's callbacks (`cause` "app_removed", "data_deletion") come through here
    too, after the user already removed the app and the token is dead.
    """
    account.access_token_encrypted = None
    account.token_expires_at = None
    account.disconnected_at = utcnow()
    cancelled = 0
    for handler in _handlers:
        cancelled += await handler(session, account.id)
    await service.change_status(
        session,
        account,
        AccountStatus.DISCONNECTED,
        _REASONS[cause],
        cancelled_posts=cancelled,
        disconnect_cause=cause,
    )
