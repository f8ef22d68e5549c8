"""The background insights refresh: the figures of every post published in the last INSIGHTS_REFRESH_DAYS.

Account by account, because Instagram throttles each account on its own (per app-user pair): an account gets at
most INSIGHTS_REFRESH_PER_ACCOUNT_CONCURRENCY calls at once, the whole run at most INSIGHTS_REFRESH_CONCURRENCY,
and one call per post. An account whose token is dead (it is marked needs_reauth), which Instagram throttled,
or whose calls keep failing is not called again in this run: its other posts keep their last figures, and the
other accounts never wait for it. Its token is decrypted once, not once per post.

Crash safety: an account's figures are written one transaction per INSIGHTS_REFRESH_CHUNK_SIZE posts (the latest
figures and their snapshots together), and its last transaction also records its `insights.refreshed` event.
Figures younger than INSIGHTS_REFRESH_FRESH_MINUTES are not read again, so a run killed midway is continued by
the next one: the posts it finished are not read, nor snapshotted, twice, and an account whose last chunk was
committed has had its event and is not in the next run at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta

from app import instagram as ig
from app.accounts import service as accounts_service
from app.accounts.models import Account, AccountStatus
from app.context import AppContext
from app.crypto import TokenDecryptionError
from app.db import unit_of_work, utcnow
from app.insights import service
from app.insights.events import AccountRun, record_run
from app.observability.metrics import REFRESH_FAILURES
from app.progress import ProgressCallback

logger = logging.getLogger(__name__)

# Failures in a row (Instagram down or timing out for this account) after which the account is left alone for
# the rest of the run: each such call may spend the client's whole retry budget, and would hold its slots.
MAX_FAILURES_IN_A_ROW = 3


@dataclass
class RefreshReport:
    refreshed: int = 0
    failed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Run:
    """What every account's refresh shares: the context, the run-wide bound on calls, the report."""

    ctx: AppContext
    calls: asyncio.Semaphore
    total: int
    progress: ProgressCallback | None
    report: RefreshReport = field(default_factory=RefreshReport)

    def done(self, post_id: int) -> None:
        if self.progress:
            report = self.report
            done = report.refreshed + report.failed + report.skipped
            self.progress(done, self.total, f"post {post_id}: {report.as_dict()}")


class _AccountRefresh:
    """One account's posts: a few callers taking the next post in turn, results written chunk by chunk."""

    def __init__(self, run: _Run, account: Account, posts: list[service.DuePost]) -> None:
        self.run = run
        self.account = account
        self.posts = posts
        self.outcome = AccountRun(account)
        self.results: list[tuple[int, service.Figures]] = []
        self.taken = 0
        self.stopped = False
        self.failures_in_a_row = 0

    async def refresh(self) -> None:
        account = self.account
        if account.status != AccountStatus.ACTIVE or not account.access_token_encrypted:
            for post in self.posts:
                self._skipped(post)
            return
        try:
            token = accounts_service.access_token(account, self.run.ctx.cipher)
        except TokenDecryptionError:
            logger.error("insights refresh: the account's token cannot be decrypted", extra={"account_id": account.id})
            token = None
        if token is None:
            for post in self.posts:
                self._failed(post)
            await self._write(final=True)
            return
        queue = iter(self.posts)  # shared: each post is taken by exactly one caller
        callers = min(self.run.ctx.settings.insights_refresh_per_account_concurrency, len(self.posts))
        await asyncio.gather(*(self._call_in_turn(queue, token) for _ in range(callers)))
        await self._write(final=True)

    async def _call_in_turn(self, queue: Iterator[service.DuePost], token: str) -> None:
        instagram = self.run.ctx.instagram
        for post in queue:
            self.taken += 1
            if self.stopped:
                self._skipped(post)
                continue
            try:
                async with self.run.calls:
                    if self.stopped:  # decided while this caller waited for a slot
                        self._skipped(post)
                        continue
                    metrics = await instagram.get_media_insights(token, post.media_id, product_type=post.product_type)
                figures = service.figures_from_metrics(metrics)
            except ig.TokenInvalid as exc:
                self._failed(post, exc)
                await self._stop_dead_token(exc)
                continue
            except ig.RateLimited as exc:
                # Throttled calls count against the account too: leave it alone until the next run.
                self._failed(post, exc)
                self._stop("Instagram throttled the account")
                continue
            except ig.TransientError as exc:
                self._failed(post, exc)
                self.failures_in_a_row += 1
                if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                    self._stop(f"{MAX_FAILURES_IN_A_ROW} calls failed in a row")
                continue
            except Exception as exc:  # one post never stops the rest (a media deleted at Instagram, say)
                self._failed(post, exc)
                continue
            self.failures_in_a_row = 0
            self.results.append((post.id, figures))
            # The account's last posts wait for its final write, which carries its event too.
            if len(self.results) >= self.run.ctx.settings.insights_refresh_chunk_size and self.taken < len(self.posts):
                await self._write(final=False)

    async def _write(self, *, final: bool) -> None:
        """The pending figures in one transaction; the last one of the account also carries its event."""
        chunk, self.results = self.results, []
        if not chunk and not (final and self.outcome.failed + self.outcome.refreshed):
            return
        try:
            async with unit_of_work(self.run.ctx.sessionmaker) as session:
                await service.record_many(session, chunk, utcnow())
                if final:
                    await record_run(session, replace(self.outcome, refreshed=self.outcome.refreshed + len(chunk)))
        except Exception:
            # Not committed: those posts keep their previous figures and are read again by the next run.
            logger.exception("insights refresh: storing figures failed", extra={"account_id": self.account.id})
            for post_id, _ in chunk:
                self._count_failure(post_id)
            if final and chunk:
                # The account's earlier chunks are stored: its event still tells what this run did.
                await self._write(final=True)
            return
        self.outcome.refreshed += len(chunk)
        for post_id, _ in chunk:
            self.run.report.refreshed += 1
            self.run.done(post_id)

    async def _stop_dead_token(self, exc: ig.TokenInvalid) -> None:
        if self.stopped:
            return
        self._stop("the token is dead")
        await accounts_service.mark_needs_reauth(self.run.ctx.sessionmaker, self.account.id, exc.message)

    def _stop(self, reason: str) -> None:
        if not self.stopped:
            self.stopped = True
            logger.warning(
                "insights refresh: account not called again in this run: %s",
                reason,
                extra={"account_id": self.account.id},
            )

    def _skipped(self, post: service.DuePost) -> None:
        self.run.report.skipped += 1
        self.run.done(post.id)

    def _failed(self, post: service.DuePost, exc: Exception | None = None) -> None:
        if exc is not None:
            logger.warning("insights refresh failed", extra={"post_id": post.id, "error": str(exc)})
        self._count_failure(post.id)

    def _count_failure(self, post_id: int) -> None:
        self.outcome.failed += 1
        self.run.report.failed += 1
        REFRESH_FAILURES.labels("insights").inc()
        self.run.done(post_id)


async def refresh_recent(ctx: AppContext, progress: ProgressCallback | None = None) -> RefreshReport:
    """Refresh every post published in the last INSIGHTS_REFRESH_DAYS (30): latest figures plus a snapshot."""
    settings = ctx.settings
    now = utcnow()
    async with ctx.sessionmaker() as session:
        posts = await service.due_for_refresh(
            session,
            since=now - timedelta(days=settings.insights_refresh_days),
            fresh_after=now - timedelta(minutes=settings.insights_refresh_fresh_minutes),
        )
        by_account: dict[int, list[service.DuePost]] = {}
        for post in posts:  # newest first, within each account too
            by_account.setdefault(post.account_id, []).append(post)
        accounts = await accounts_service.get_many(session, list(by_account))
    run = _Run(ctx, asyncio.Semaphore(settings.insights_refresh_concurrency), len(posts), progress)
    # The account with the newest post first: the semaphore serves the waiting callers in turn.
    order = {account_id: index for index, account_id in enumerate(by_account)}
    accounts.sort(key=lambda account: order[account.id])
    await asyncio.gather(*(_AccountRefresh(run, account, by_account[account.id]).refresh() for account in accounts))
    logger.info("insights refresh finished", extra=run.report.as_dict())
    return run.report
