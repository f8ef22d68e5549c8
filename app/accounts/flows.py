"""Account flows that talk to Instagram: connecting through OAuth, and reading an account live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import failures
from app import instagram as ig
from app.accounts import service, subscriptions
from app.accounts.models import Account, AccountStatus
from app.accounts.oauth_state import consume_state, issue_state, read_state
from app.config import OAUTH_CALLBACK_PATH
from app.context import AppContext
from app.db import utcnow
from app.errors import BadRequest, Conflict
from app.public_urls import PublicLinks


def authorize_url(ctx: AppContext, user_id: str, links: PublicLinks) -> tuple[str, timedelta]:
    """Instagram's authorize URL with a fresh state for this user, and how long it stays valid.

    The redirect URI (and, in sandbox mode, the consent page) are on the address the caller reached.
    """
    settings = ctx.settings
    ttl = timedelta(seconds=settings.oauth_state_ttl_seconds)
    state, _ = issue_state(user_id, settings.token_encryption_keys(), ttl, utcnow())
    url = ctx.instagram.authorize_url(
        redirect_uri=links.base_url + OAUTH_CALLBACK_PATH, scopes=settings.instagram_scopes, state=state
    )
    return links.absolute(url) or url, ttl


async def connect_account(
    session: AsyncSession, ctx: AppContext, *, state: str, code: str, redirect_uri: str
) -> Account:
    """The callback's work: spend the state, exchange code → short → long-lived token, read /me, upsert.

    `redirect_uri` is the callback's own address: the one the authorize request named, as Instagram requires.
    """
    keys = ctx.settings.token_encryption_keys()
    parsed = read_state(state, keys, utcnow())
    use = await consume_state(session, parsed)
    # Spend the state before the slow calls: a replay is refused even while this one is in flight,
    # and no transaction is held open across calls to Instagram.
    await session.commit()
    try:
        short = await ctx.instagram.exchange_code(code, redirect_uri=redirect_uri)
        long = await ctx.instagram.exchange_long_lived(short.access_token.get_secret_value())
        profile = await ctx.instagram.get_me(long.access_token.get_secret_value())
    except ig.InstagramError as exc:
        raise failures.instagram_error(exc) from exc
    # Webhooks for the account's comments: a failure is shown on the account and retried, never fatal here.
    subscription = await subscriptions.subscribe(ctx, long.access_token.get_secret_value())
    now = utcnow()
    account = await service.upsert_connected(
        session,
        user_id=parsed.user_id,
        profile=profile,
        settings=ctx.settings,
        token_ciphertext=ctx.cipher.encrypt(long.access_token.get_secret_value()),
        token_expires_at=now + timedelta(seconds=long.expires_in),
        scopes=short.permissions,
    )
    subscriptions.apply(account, subscription)
    use.account_id = account.id
    session.add(use)
    return account


def read_state_or_raise(ctx: AppContext, state: str) -> None:
    """Verify a state's signature and expiry (raises InvalidState)."""
    read_state(state, ctx.settings.token_encryption_keys(), utcnow())


def require_usable(account: Account) -> None:
    """Refuse before calling Instagram when the account cannot be used (no token, or a dead one)."""
    if account.status == AccountStatus.DISCONNECTED or account.access_token_encrypted is None:
        raise Conflict(
            f"Account {account.id} is disconnected. Connect it again to use it.", code="account_disconnected"
        )
    if account.status == AccountStatus.NEEDS_REAUTH:
        raise failures.reauth_required(account.id)


@asynccontextmanager
async def instagram_token(session: AsyncSession | None, ctx: AppContext, account: Account) -> AsyncIterator[str]:
    """The account's token for calls to Instagram made inside the block, their failures turned into answers.

    The request's transaction (if any: a detached account has none) is committed first: no transaction (nor
    pooled connection) is held open while Instagram takes its time. A dead token marks the account
    `needs_reauth`.
    """
    require_usable(account)
    token = service.access_token(account, ctx.cipher)
    assert token is not None
    if session is not None:
        await session.commit()
    try:
        yield token
    except ig.TokenInvalid as exc:
        await service.mark_needs_reauth(ctx.sessionmaker, account.id, exc.message)
        account.status = AccountStatus.NEEDS_REAUTH
        raise failures.reauth_required(account.id) from exc
    except ig.InstagramError as exc:
        raise failures.instagram_error(exc, account_id=account.id) from exc


async def read_profile(ctx: AppContext, account: Account) -> ig.InstagramProfile:
    """The live profile of a detached account (`service.get_owned_detached`), also stored as its cached profile
    when it changed; an unchanged profile touches the database no more."""
    async with instagram_token(None, ctx, account) as token:
        profile = await ctx.instagram.get_user(token, account.ig_user_id)
    changes = service.apply_profile(account, profile, ctx.settings)
    if changes:
        await service.save_profile(ctx.sessionmaker, account, changes)
    return profile


async def recent_media(ctx: AppContext, account: Account, *, limit: int, after: str | None) -> ig.MediaPage:
    """One page of a detached account's media, newest first, read live."""
    async with instagram_token(None, ctx, account) as token:
        return await ctx.instagram.list_media(token, account.ig_user_id, limit=limit, after=after)


def media_type_label(media: ig.InstagramMedia) -> str | None:
    """Reels are listed by Instagram as VIDEO with product type REELS; the seed reports them as REELS."""
    if (media.media_product_type or "").upper() == "REELS":
        return "REELS"
    return media.media_type


def require_code(code: str | None) -> str:
    if not code:
        raise BadRequest("code is required", code="validation_error")
    return code
