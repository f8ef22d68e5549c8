"""Reading insights from Instagram: one post (on request or in the refresh job), and an account."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app import instagram as ig
from app.accounts import flows as accounts_flows
from app.accounts import service as accounts_service
from app.accounts.models import Account, AccountStatus
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.errors import AppError
from app.insights import service
from app.insights.events import AccountRun, record_runs
from app.insights.models import PostAnalytics
from app.insights.schemas import AccountInsights, PostInsights
from app.observability.metrics import REFRESH_FAILURES
from app.progress import ProgressCallback
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


@dataclass
class RefreshReport:
    refreshed: int = 0
    failed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


async def refresh_recent(ctx: AppContext, progress: ProgressCallback | None = None) -> RefreshReport:
    """Refresh every post published in the last INSIGHTS_REFRESH_DAYS (30): latest figures plus a snapshot.

    At most INSIGHTS_REFRESH_CONCURRENCY calls at once; one post failing never stops the others; an
    account whose token is dead is marked needs_reauth and its other posts are skipped.
    """
    since = utcnow() - timedelta(days=ctx.settings.insights_refresh_days)
    async with ctx.sessionmaker() as session:
        rows = await service.published_since(session, since)
    report = RefreshReport()
    runs: dict[int, AccountRun] = {}
    dead_accounts: set[int] = set()
    semaphore = asyncio.Semaphore(ctx.settings.insights_refresh_concurrency)
    total = len(rows)

    async def refresh_one(post: Post, account: Account) -> None:
        if account.id in dead_accounts or account.status != AccountStatus.ACTIVE or not account.access_token_encrypted:
            report.skipped += 1
            return
        async with semaphore:
            if account.id in dead_accounts:
                report.skipped += 1
                return
            run = runs.setdefault(account.id, AccountRun(account))
            try:
                token = accounts_service.access_token(account, ctx.cipher)
                assert token is not None
                await fetch_and_record(ctx, post, token)
                report.refreshed += 1
                run.refreshed += 1
            except ig.TokenInvalid as exc:
                dead_accounts.add(account.id)
                await accounts_service.mark_needs_reauth(ctx.sessionmaker, account.id, exc.message)
                report.failed += 1
                run.failed += 1
                REFRESH_FAILURES.labels("insights").inc()
            except Exception as exc:  # one post never stops the rest
                report.failed += 1
                run.failed += 1
                REFRESH_FAILURES.labels("insights").inc()
                logger.warning("insights refresh failed", extra={"post_id": post.id, "error": str(exc)})
        if progress:
            done = report.refreshed + report.failed + report.skipped
            progress(done, total, f"post {post.id}: {report.as_dict()}")

    await asyncio.gather(*(refresh_one(post, account) for post, account in rows))
    async with unit_of_work(ctx.sessionmaker) as session:
        await record_runs(session, runs.values())
    logger.info("insights refresh finished", extra=report.as_dict())
    return report
