"""Queries and rules for connected accounts. Services flush; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import public_urls
from app.accounts import events as account_events
from app.accounts.events import DisconnectCause, ReauthCause
from app.accounts.models import Account, AccountStatus
from app.accounts.schemas import AccountOut
from app.config import Settings
from app.crypto import TokenCipher
from app.db import single_statement, unit_of_work, utcnow
from app.direct_reads import DirectRead
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


_WEBHOOK_STATES: dict[str, Literal["subscribed", "failed"]] = {"subscribed": "subscribed", "failed": "failed"}


def to_account_out(account: Account, links: PublicLinks) -> AccountOut:
    """One account's answer (the same as GET /accounts gives for it)."""
    return _answer_from_row(tuple(getattr(account, column.key) for column in _ACCOUNT_OUT_COLUMNS), links)


# GET /accounts reads only what its answer shows (no token, no JSON scopes to decode), with a statement built
# once and run straight on the database driver (app/direct_reads.py).
_ACCOUNT_OUT_COLUMNS = (
    Account.id,
    Account.platform,
    Account.username,
    Account.status,
    Account.ig_user_id,
    Account.profile_picture_url,
    Account.account_type,
    Account.followers_count,
    Account.following_count,
    Account.token_expires_at,
    Account.created_at,
    Account.name,
    Account.webhook_subscription,
    Account.webhook_subscription_error,
)
OWNED_ANSWERS = DirectRead(
    select(*_ACCOUNT_OUT_COLUMNS).where(Account.user_id == bindparam("user_id")).order_by(Account.id)
)


def _answer_from_row(row: Sequence[Any], links: PublicLinks) -> AccountOut:
    """The answer for a row of `_ACCOUNT_OUT_COLUMNS` (in their order: cheaper than attributes by name)."""
    (id_, platform, username, status, ig_user_id, picture, account_type, followers, following, expires, created,
     name, webhooks, webhooks_error) = row  # fmt: skip
    return AccountOut(
        id=id_,
        platform=platform,
        account_name=username,
        is_active=status != AccountStatus.DISCONNECTED,
        platform_user_id=ig_user_id,
        profile_picture_url=links.absolute(picture),
        account_type=account_type,
        followers_count=followers,
        following_count=following,
        token_expires_at=expires,
        created_at=created,
        status=status,
        name=name,
        webhooks=_WEBHOOK_STATES.get(webhooks or ""),
        webhooks_error=webhooks_error,
    )


async def list_owned_answers(bind: AsyncEngine | AsyncConnection, user_id: str, links: PublicLinks) -> list[AccountOut]:
    """The user's accounts as GET /accounts answers them, read as plain rows (no ORM objects to build)."""
    rows = await OWNED_ANSWERS.rows(bind, {"user_id": user_id})
    return [_answer_from_row(row, links) for row in rows]


# Built once, like OWNED_ANSWERS: every route on one account runs it, and a statement built per call is
# rebuilt and its cache key recomputed each time.
_OWNED = select(Account).where(Account.id == bindparam("account_id"), Account.user_id == bindparam("user_id"))


async def get_owned(session: AsyncSession, user_id: str, account_id: int) -> Account | None:
    """The user's account with this id, or None (another user's account is None too)."""
    return await session.scalar(_OWNED, {"account_id": account_id, "user_id": user_id})


# The proxied reads (GET /account/info, GET /media) need the row only for its token and ids: one SELECT outside
# any transaction, straight on the driver, instead of a session's BEGIN, SELECT and COMMIT around an ORM query.
_ACCOUNT_ATTRIBUTES = tuple(attribute.key for attribute in Account.__mapper__.column_attrs)
_OWNED_ROW = DirectRead(
    select(*(getattr(Account, key) for key in _ACCOUNT_ATTRIBUTES)).where(
        Account.id == bindparam("account_id"), Account.user_id == bindparam("user_id")
    )
)


async def get_owned_detached(bind: AsyncEngine | AsyncConnection, user_id: str, account_id: int) -> Account | None:
    """`get_owned`, as an `Account` in no session: read it, never flush it (`save_profile` writes what changes)."""
    rows = await _OWNED_ROW.rows(bind, {"account_id": account_id, "user_id": user_id})
    if not rows:
        return None
    return Account(**dict(zip(_ACCOUNT_ATTRIBUTES, rows[0], strict=True)))


async def save_profile(
    sessionmaker: async_sessionmaker[AsyncSession], account: Account, changes: dict[str, Any]
) -> None:
    """Store what `apply_profile` changed on a detached account: one UPDATE."""
    async with single_statement(sessionmaker) as session:
        await session.execute(update(Account).where(Account.id == account.id).values(**changes))


async def list_active(session: AsyncSession, user_id: str, ids: Sequence[int] | None = None) -> Sequence[Account]:
    query = select(Account).where(Account.user_id == user_id, Account.status != AccountStatus.DISCONNECTED)
    if ids is not None:
        query = query.where(Account.id.in_(ids))
    result = await session.scalars(query.order_by(Account.id))
    return result.all()


def apply_profile(account: Account, profile: InstagramProfile, settings: Settings) -> dict[str, Any]:
    """Copy what Instagram says about the account onto its row (the cached profile); the values that changed.

    Only the values that differ are set: assigning an equal value still marks the row dirty, and a dirty row
    costs a request reading an unchanged profile a second database round trip (a pooled connection, a ping, an
    empty transaction) after its Instagram call. A picture on this service (the sandbox's) is kept as a path:
    the host and port may change.
    """
    values = {
        "username": profile.username or account.username,
        "name": profile.name,
        "account_type": account_type_label(profile.account_type),
        "profile_picture_url": public_urls.stored_form(profile.profile_picture_url, settings),
        "biography": profile.biography,
        "website": profile.website,
        "followers_count": profile.followers_count,
        "following_count": profile.follows_count,
        "media_count": profile.media_count,
    }
    changed = {name: value for name, value in values.items() if getattr(account, name) != value}
    for name, value in changed.items():
        setattr(account, name, value)
    return changed


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
    if account is None:
        account = Account(user_id=user_id, ig_user_id=profile.user_id, username=profile.username, created_at=now)
        session.add(account)
    apply_profile(account, profile, settings)
    account.access_token_encrypted = token_ciphertext
    account.token_issued_at = now
    account.token_refreshed_at = None
    account.token_expires_at = token_expires_at
    account.scopes = list(scopes)
    account.disconnected_at = None
    await change_status(session, account, AccountStatus.ACTIVE, None)
    return account


async def change_status(
    session: AsyncSession,
    account: Account,
    status: AccountStatus,
    reason: str | None,
    *,
    cause: ReauthCause = "api_call",
    cancelled_posts: int = 0,
    disconnect_cause: DisconnectCause = "user",
) -> None:
    """Every change of an account's status is written here, in the caller's transaction, with the event it
    emits in that same transaction (the outbox): account.connected, account.needs_reauth (`cause`: a token
    refresh or a call), account.disconnected (`cancelled_posts`, `disconnect_cause`). The one place to hook what
    must happen with a status change."""
    # A row not in the database yet (no id before its first flush) is a first connection, not a reconnection.
    first_connection = account.id is None
    was_connected = account.is_active
    account.status = status
    account.status_reason = reason
    account.updated_at = utcnow()
    session.add(account)
    await session.flush()
    if status == AccountStatus.ACTIVE:
        await account_events.record_connected(session, account, reconnected=not first_connection)
    elif status == AccountStatus.NEEDS_REAUTH:
        await account_events.record_needs_reauth(session, account, cause=cause, reason=reason or "")
    elif was_connected:
        await account_events.record_disconnected(
            session, account, cancelled_posts=cancelled_posts, cause=disconnect_cause
        )


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
    cause: ReauthCause = "api_call",
) -> None:
    """Record, in its own committed unit of work, that Instagram no longer accepts the account's token
    (with its account.needs_reauth event, once per change).

    Its own transaction because the request that found out is about to answer an error (and roll back).
    Only an active account changes: a disconnected one stays disconnected.
    """
    async with unit_of_work(sessionmaker) as session:
        account = await session.scalar(select(Account).where(Account.id == account_id).with_for_update())
        if account is not None and account.status == AccountStatus.ACTIVE:
            await change_status(session, account, AccountStatus.NEEDS_REAUTH, reason, cause=cause)


async def get(session: AsyncSession, account_id: int) -> Account | None:
    """The account with this id, whoever owns it (for work that starts from a record that names it)."""
    return await session.scalar(select(Account).where(Account.id == account_id))


async def get_many(session: AsyncSession, account_ids: Sequence[int]) -> list[Account]:
    """The accounts with these ids, whoever owns them."""
    result = await session.scalars(select(Account).where(Account.id.in_(account_ids)).order_by(Account.id))
    return list(result.all())
