"""Reading insights from Instagram on request: one post, and an account (the background refresh: refresh.py)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import flows as accounts_flows
from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.errors import AppError
from app.insights import service
from app.insights.models import PostAnalytics
from app.insights.schemas import AccountInsights, PostInsights
from app.publishing.models import Post, PostKind

logger = logging.getLogger(__name__)

ACCOUNT_METRICS = (
    "reach",
    "views",
    "likes",
    "comments",
    "shares",
    "saves",
    "replies",
    "total_interactions",
    "accounts_engaged",
    "profile_links_taps",
    "follows_and_unfollows",
)
Period = Literal["day", "week", "days_28"]
PERIODS: dict[Period, timedelta] = {"day": timedelta(days=1), "week": timedelta(days=7), "days_28": timedelta(days=28)}
# Answers that leave stored figures meaningful: Instagram slow, throttled, refusing the media id, or the
# account disconnected since. A dead token or a missing permission needs the user, so it stays an error.
_STALE_OK = frozenset({400, 409, 429, 502})
# Instagram refuses follows_and_unfollows for accounts under 100 followers, failing the whole call.
FOLLOWS_METRICS_MIN_FOLLOWERS = 100


def account_metrics_for(followers_count: int | None) -> tuple[str, ...]:
    """The account metrics to ask for: without follows_and_unfollows for an account known to be small.

    The client also drops a metric Instagram refuses and asks once more, so a stale follower count costs
    one extra call, never a failure.
    """
    if followers_count is not None and followers_count < FOLLOWS_METRICS_MIN_FOLLOWERS:
        return tuple(metric for metric in ACCOUNT_METRICS if metric != "follows_and_unfollows")
    return ACCOUNT_METRICS


async def fetch_and_record(ctx: AppContext, post: Post, token: str) -> PostAnalytics:
    """Read the post's metrics (the set valid for its kind), store them and append a snapshot."""
    assert post.media_id is not None
    metrics = await ctx.instagram.get_media_insights(
        token, post.media_id, product_type=service.PRODUCT_TYPES[PostKind(post.kind)]
    )
    figures = service.figures_from_metrics(metrics)
    async with unit_of_work(ctx.sessionmaker) as session:
        return await service.record(session, post.id, figures, utcnow())


async def post_insights(session: AsyncSession, ctx: AppContext, post: Post) -> PostInsights:
    """A published post's figures read live and stored; the last stored ones, marked stale, when Instagram fails."""
    account = await accounts_service.get(session, post.account_id)
    assert account is not None
    try:
        async with accounts_flows.instagram_token(session, ctx, account) as token:
            stored = await fetch_and_record(ctx, post, token)
    except AppError as exc:
        previous = await service.latest(session, post.id)
        if previous is None or exc.status_code not in _STALE_OK:
            raise
        return service.to_post_insights(post, previous, stale_reason=exc.message)
    return service.to_post_insights(post, stored)


async def account_insights(session: AsyncSession, ctx: AppContext, account: Account, period: Period) -> AccountInsights:
    """The account's totals over the window ending now, read live."""
    until = utcnow()
    since = until - PERIODS[period]
    async with accounts_flows.instagram_token(session, ctx, account) as token:
        # Small accounts: no follows_and_unfollows (the client drops any other metric Instagram refuses).
        metrics = await ctx.instagram.get_account_insights(
            token, account.ig_user_id, metrics=account_metrics_for(account.followers_count), since=since, until=until
        )
    return AccountInsights(account_id=account.id, period=period, since=since, until=until, metrics=metrics)
