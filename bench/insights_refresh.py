"""Goal 5: the worker's insights refresh over 10,000 published posts on 100 accounts, 100 ms per insights call.

The posts are made the fast way: the sandbox adds the media to each account in one call (`POST /control/media`)
and the posts are inserted as published rows pointing at them. Publishing 10,000 posts for real would take
longer than the benchmark, and the refresh only reads what is published. The refresh is enqueued on the real
arq worker and timed from the enqueue to the job's end; the sandbox counts every Graph call it receives, per
account, and the most each account had in flight at once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.insights.models import AnalyticsSnapshot, PostAnalytics
from app.publishing.models import Post, PostKind, PostStatus
from bench.harness import Connected, set_latency
from bench.report import Row, seconds
from tests.worker.stack import Stack

REFRESH_JOB = "refresh_insights"  # the job's name in the worker (app/tasks.py)
TARGET_SECONDS = 30.0
CALLS_PER_POST = 1.0
WINDOW_DAYS = 29.0  # inside the refresh's 30 days


@dataclass(frozen=True)
class RefreshResult:
    posts: int
    accounts: int
    seconds: float
    refreshed: int  # posts whose latest figures were stored by this run
    snapshots: int
    calls: dict[str, Any]  # the sandbox's /control/calls

    @property
    def calls_per_post(self) -> float:
        return int(self.calls["calls"]) / self.posts if self.posts else 0.0


def _span_days(index: int, accounts: int) -> float:
    """Accounts post at different rates: the k-th account's posts span (k + 1) / n of the 29 days. The newest
    posts, refreshed first, then come mostly from the busiest accounts, as they do in life; evenly spread posts
    would interleave the accounts perfectly and never show how many calls one account gets at once."""
    return WINDOW_DAYS * (index + 1) / accounts


async def seed_published_posts(stack: Stack, sub: str, accounts: list[Connected], per_account: int) -> int:
    """`per_account` published feed posts on each account: media in the sandbox, rows in the database."""
    async with stack.sandbox() as sandbox:
        answers = await asyncio.gather(
            *(
                sandbox.post(
                    "/control/media",
                    json={"username": a.username, "count": per_account, "max_age_days": _span_days(i, len(accounts))},
                    timeout=120,
                )
                for i, a in enumerate(accounts)
            )
        )
    rows: list[dict[str, Any]] = []
    for account, answer in zip(accounts, answers, strict=True):
        answer.raise_for_status()
        for media in answer.json()["data"]:
            published_at = datetime.fromisoformat(media["timestamp"])
            rows.append(
                {
                    "user_id": sub,
                    "account_id": account.id,
                    "kind": PostKind.FEED,
                    "status": PostStatus.PUBLISHED,
                    "caption": "Benchmark post",
                    "media_id": media["id"],
                    "published_at": published_at,
                    "created_at": published_at,
                    "updated_at": published_at,
                }
            )
    engine = create_async_engine(stack.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(Post), rows)
    finally:
        await engine.dispose()
    return len(rows)


async def _wait_for_job(redis: ArqRedis, job_id: str, timeout: float) -> None:
    """Until the worker has finished the job: arq deletes the job's key then. (Its status would still say
    "in progress" for a minute: the job is also a cron, whose in-progress mark arq keeps to prevent reruns.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not await redis.exists(job_key_prefix + job_id):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the insights refresh did not finish within {timeout:.0f} s")


async def _stored_since(database_url: str, since: datetime) -> tuple[int, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            latest = await connection.scalar(
                select(func.count()).select_from(PostAnalytics).where(PostAnalytics.updated_at >= since)
            )
            snapshots = await connection.scalar(
                select(func.count()).select_from(AnalyticsSnapshot).where(AnalyticsSnapshot.captured_at >= since)
            )
    finally:
        await engine.dispose()
    return int(latest or 0), int(snapshots or 0)


async def refresh(
    stack: Stack, posts: int, accounts: int, *, call_seconds: float = 0.1, timeout: float = 900
) -> RefreshResult:
    """Enqueue the refresh on the worker and time it, the sandbox answering each insights call in `call_seconds`."""
    await set_latency(stack, {"media_insights": call_seconds})
    async with stack.sandbox() as sandbox:
        (await sandbox.put("/control/calls", json={"recording": True})).raise_for_status()
    redis = await create_pool(RedisSettings.from_dsn(stack.redis_url))
    try:
        since = datetime.now(UTC)
        started = time.perf_counter()
        job_id = f"bench-refresh-{uuid.uuid4().hex}"
        if await redis.enqueue_job(REFRESH_JOB, _job_id=job_id) is None:
            raise RuntimeError("the insights refresh could not be enqueued")
        await _wait_for_job(redis, job_id, timeout)
        elapsed = time.perf_counter() - started
    finally:
        await redis.aclose()
        await set_latency(stack, {})
    async with stack.sandbox() as sandbox:
        calls = (await sandbox.put("/control/calls", json={"recording": False})).json()
    refreshed, snapshots = await _stored_since(stack.database_url, since)
    return RefreshResult(posts, accounts, elapsed, refreshed, snapshots, calls)


def refresh_rows(result: RefreshResult, call_seconds: float = 0.1) -> list[Row]:
    complete = result.refreshed == result.posts and result.snapshots == result.posts
    per_endpoint = ", ".join(f"{k} {v:,}" for k, v in result.calls["per_endpoint"].items()) or "none"
    return [
        Row(
            goal="5 insights",
            what=f"refresh {result.posts:,} posts on {result.accounts} accounts, {call_seconds * 1000:.0f} ms a call",
            figure=seconds(result.seconds),
            reference=f"{result.refreshed:,}/{result.posts:,} posts refreshed",
            ratio="",
            target=f"≤ {TARGET_SECONDS:.0f} s, all refreshed",
            met=result.seconds <= TARGET_SECONDS and complete,
            values={
                "seconds": round(result.seconds, 2),
                "refreshed": result.refreshed,
                "snapshots": result.snapshots,
                "sandbox_calls": result.calls,
            },
        ),
        Row(
            goal="5 insights",
            what="upstream calls per post",
            figure=f"{result.calls_per_post:.2f}",
            reference=per_endpoint,
            ratio="",
            target=f"≤ {CALLS_PER_POST:.0f}",
            met=result.calls_per_post <= CALLS_PER_POST,
        ),
        Row(
            goal="5 insights",
            what="most calls in flight for one account (sandbox)",
            figure=str(result.calls["max_in_flight_per_account"]),
            reference=f"{result.calls['accounts']} accounts called",
            ratio="",
            target="bounded (shown)",
            met=None,
        ),
    ]
