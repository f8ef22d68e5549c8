"""The events of an account's life (connected, needs re-auth, disconnected), each recorded in the transaction
that changes the account. The one place accounts talk to `app.events`."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.accounts.models import Account
from app.events.types import AccountConnected, AccountDisconnected, AccountNeedsReauth
from app.failures import AUTH_URL

# What found the token dead: the daily token refresh, or any other call to Instagram.
ReauthCause = Literal["token_refresh", "api_call"]
# Who disconnected the account: the user through this API, or Meta's callbacks (the app removed in Instagram,
# or a data-deletion request).
DisconnectCause = Literal["user", "app_removed", "data_deletion"]


def _about(account: Account) -> dict[str, Any]:
    return {"account_id": account.id, "username": account.username, "platform_user_id": account.ig_user_id}


async def record_connected(session: AsyncSession, account: Account, *, reconnected: bool) -> None:
    data = AccountConnected(**_about(account), reconnected=reconnected)
    await events.record(session, user_id=account.user_id, type="account.connected", data=data)


async def record_needs_reauth(session: AsyncSession, account: Account, *, cause: ReauthCause, reason: str) -> None:
    data = AccountNeedsReauth(**_about(account), auth_url=AUTH_URL, cause=cause, reason=reason)
    await events.record(session, user_id=account.user_id, type="account.needs_reauth", data=data)


async def record_disconnected(
    session: AsyncSession, account: Account, *, cancelled_posts: int, cause: DisconnectCause
) -> None:
    data = AccountDisconnected(**_about(account), cancelled_posts=cancelled_posts, cause=cause)
    await events.record(session, user_id=account.user_id, type="account.disconnected", data=data)
