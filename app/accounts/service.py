"""Queries and rules for connected accounts. Services flush; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import public_urls
from app.accounts import events as account_events
from app.accounts.models import Account, AccountStatus
from app.accounts.schemas import AccountOut
from app.config import Settings
from app.crypto import TokenCipher
from app.db import unit_of_work, utcnow
from app.instagram import InstagramProfile
from app.public_urls import PublicLinks

_ACCOUNT_TYPES = {
    "BUSINESS": "business",
    "MEDIA_CREATOR": "creator",
    "CREATOR": "creator",
    "PERSONAL": "personal",
}


def account_type_label(value: str | None) -> str | None:
    """Instagram's `BUSINESS`/`MEDIA_CREATOR` as the seed shows it (`business`, `creator`)."""
    if value is None:
        return None
    return _ACCOUNT_TYPES.get(value.upper(), value.lower())


def to_account_out(account: Account, links: PublicLinks) -> AccountOut:
    return AccountOut(
        id=account.id,
        platform=account.platform,
        account_name=account.username,
        is_active=account.is_active,
        platform_user_id=account.ig_user_id,
        profile_picture_url=links.absolute(account.profile_picture_url),
        account_type=account.account_type,
        followers_count=account.followers_count,
        following_count=account.following_count,
        token_expires_at=account.token_expires_at,
        created_at=account.created_at,
        status=account.status,
        name=account.name,
    )


async def get_owned(session: AsyncSession, user_id: str, account_id: int) -> Account | None:
    """The user's account with this id, or None (another user's account is None too)."""
    return await session.scalar(select(Account).where(Account.id == account_id, Account.user_id == user_id))


async def list_owned(session: AsyncSession, user_id: str) -> Sequence[Account]:
    result = await session.scalars(select(Account).where(Account.user_id == user_id).order_by(Account.id))
    return result.all()


async def list_active(session: AsyncSession, user_id: str, ids: Sequence[int] | None = None) -> Sequence[Account]:
    query = select(Account).where(Account.user_id == user_id, Account.status != AccountStatus.DISCONNECTED)
    if ids is not None:
        query = query.where(Account.id.in_(ids))
    result = await session.scalars(query.order_by(Account.id))
    return result.all()


def apply_profile(account: Account, profile: InstagramProfile, settings: Settings) -> None:
    """Copy what Instagram says about the account onto its row (the cached profile).

    A picture on this service (the sandbox's) is kept as a path: the host and port may change.
    """
    account.username = profile.username or account.username
    account.name = profile.name
    account.account_type = account_type_label(profile.account_type)
    account.profile_picture_url = public_urls.stored_form(profile.profile_picture_url, settings)
    account.biography = profile.biography
    account.website = profile.website
    account.followers_count = profile.followers_count
    account.following_count = profile.follows_count
    account.media_count = profile.media_count


async def upsert_connected(
    session: AsyncSession,
    *,
    user_id: str,
    profile: InstagramProfile,
    settings: Settings,
    token_ciphertext: str,
    token_expires_at: datetime,
    scopes: Sequence[str],
) -> Account:
    """Create the account, or reactivate it with the new token when this user connected it before."""
    now = utcnow()
    account = await session.scalar(
        select(Account).where(Account.user_id == user_id, Account.ig_user_id == profile.user_id)
    )
    reconnected = account is not None
    if account is None:
        account = Account(user_id=user_id, ig_user_id=profile.user_id, username=profile.username, created_at=now)
        session.add(account)
    apply_profile(account, profile, settings)
    account.access_token_encrypted = token_ciphertext
    account.token_issued_at = now
    account.token_refreshed_at = None
    account.token_expires_at = token_expires_at
    account.scopes = list(scopes)
    account.status = AccountStatus.ACTIVE
    account.status_reason = None
    account.disconnected_at = None
    account.updated_at = now
    await session.flush()
    await account_events.record_connected(session, account, reconnected=reconnected)
    return account


def disconnect(account: Account) -> None:
    """Destroy the token and mark the account disconnected; its posts and analytics stay."""
    account.access_token_encrypted = None
    account.token_expires_at = None
    account.status = AccountStatus.DISCONNECTED
    account.status_reason = "disconnected by the user"
    account.disconnected_at = utcnow()


def access_token(account: Account, cipher: TokenCipher) -> str | None:
    """The account's plain token, or None when it has none (disconnected)."""
    if account.access_token_encrypted is None:
        return None
    return cipher.decrypt(account.access_token_encrypted)


async def mark_needs_reauth(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    reason: str,
    *,
    cause: Literal["token_refresh", "api_call"] = "api_call",
) -> None:
    """Record, in its own committed unit of work, that Instagram no longer accepts the account's token
    (with its account.needs_reauth event, once per change).

    Its own transaction because the request that found out is about to answer an error (and roll back).
    """
    async with unit_of_work(sessionmaker) as session:
        result = await session.execute(
            update(Account)
            .where(Account.id == account_id, Account.status == AccountStatus.ACTIVE)
            .values(status=AccountStatus.NEEDS_REAUTH, status_reason=reason, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            account = await session.scalar(select(Account).where(Account.id == account_id))
            assert account is not None
            await account_events.record_needs_reauth(session, account, cause=cause, reason=reason)
