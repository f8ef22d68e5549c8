"""Goal 6: resident memory of the API and of the worker at start and after 10,000 mixed requests.

Both processes are started afresh and measured once ready. The mix cycles over 10 accounts: the proxied reads
(account info, media, a post's insights), the database reads (accounts, one account, posts, one post), and
publishing — a feed post published inside the request for half the accounts, and one handed to the worker
(`Prefer: respond-async`) for one account in ten — about 8 % of the requests. Every publishing request has its
own Idempotency-Key. Memory is read once the worker has published everything it was handed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.publishing.models import ACTIVE_STATUSES, Post, PostStatus
from bench import system
from bench.harness import API, IMAGE_URL, Connected, bearer, set_latency
from bench.load import LoadResult, Request, run_load
from bench.report import Row, mb
from bench.runtime_venv import runtime_python
from tests.worker.stack import Stack

START_LIMIT_MB = 100.0
AFTER_LIMIT_MB = 120.0


@dataclass(frozen=True)
class MemoryResult:
    api_start_mb: float
    worker_start_mb: float
    api_after_mb: float
    worker_after_mb: float
    load: LoadResult
    published: int
    mix: dict[str, int]


async def _publish_one(stack: Stack, sub: str, account: Connected) -> int:
    async with stack.api() as api:
        response = await api.post(
            f"{API}/posts",
            headers={**bearer(sub), "Idempotency-Key": str(uuid.uuid4())},
            json={"account_id": account.id, "image_url": IMAGE_URL, "caption": "Memory benchmark"},
        )
    response.raise_for_status()
    return int(response.json()["db_id"])


def mixed_requests(sub: str, accounts: list[Connected], posts: dict[int, int]) -> list[Request]:
    """One cycle of the mix (see the module's docstring)."""
    auth = bearer(sub)
    publish_body = {"image_url": IMAGE_URL, "caption": "Memory benchmark", "hashtags": ["bench"]}
    requests: list[Request] = []
    for index, a in enumerate(accounts):
        db_id = posts[a.id]
        requests += [
            Request("GET", f"{API}/account/info?account_id={a.id}", auth),
            Request("GET", f"{API}/media?account_id={a.id}&limit=10", auth),
            Request("GET", f"{API}/{db_id}/insights", auth),
            Request("GET", f"{API}/accounts", auth),
            Request("GET", f"{API}/accounts/{a.id}", auth),
            Request("GET", f"{API}/posts?account_id={a.id}", auth),
            Request("GET", f"{API}/posts/{db_id}", auth),
        ]
        if index % 2 == 0:
            requests.append(
                Request("POST", f"{API}/posts", auth, {**publish_body, "account_id": a.id}, fresh_idempotency_key=True)
            )
        if index % 10 == 9:
            requests.append(
                Request(
                    "POST",
                    f"{API}/posts",
                    {**auth, "Prefer": "respond-async"},
                    {**publish_body, "account_id": a.id},
                    fresh_idempotency_key=True,
                )
            )
    return requests


async def _wait_until_published(database_url: str, sub: str, timeout: float = 180) -> int:
    """Until none of the user's posts is still on its way; the number published."""
    engine = create_async_engine(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with engine.connect() as connection:
                active = await connection.scalar(
                    select(func.count()).select_from(Post).where(Post.user_id == sub, Post.status.in_(ACTIVE_STATUSES))
                )
                published = await connection.scalar(
                    select(func.count())
                    .select_from(Post)
                    .where(Post.user_id == sub, Post.status == PostStatus.PUBLISHED)
                )
            if not active:
                return int(published or 0)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{active} posts still unpublished after {timeout:.0f} s")
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


def _mix(requests: list[Request]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in requests:
        kind = "publish (worker)" if "Prefer" in r.headers else ("publish" if r.method == "POST" else "read")
        counts[kind] = counts.get(kind, 0) + 1
    return counts


async def mixed_load_memory(
    stack: Stack, sub: str, accounts: list[Connected], *, count: int = 10_000, clients: int = 50
) -> MemoryResult:
    """Restart the API and the worker as deployed (the runtime-only venv of bench/runtime_venv.py, the API under
    the image's `python -m app serve`), read their memory, send `count` mixed requests, read it again."""
    for name in ("api", "worker"):
        stack.kill(name)
    stack.python = await asyncio.to_thread(runtime_python)
    stack.api_as_deployed = True
    for name in ("api", "worker"):
        stack.start(name)
    for name in ("api", "worker"):
        await stack.wait_ready(name)
    api_start, worker_start = system.rss_mb(stack.pid("api")), system.rss_mb(stack.pid("worker"))
    await set_latency(stack, {})
    async with stack.sandbox() as sandbox:
        # The mix publishes well over Instagram's 100 posts a day on some accounts.
        await sandbox.patch("/control/settings", json={"quota_total": 1_000_000, "container_limit": 1_000_000})
    posts = {a.id: await _publish_one(stack, sub, a) for a in accounts}
    requests = mixed_requests(sub, accounts, posts)
    load = await asyncio.to_thread(
        run_load,
        stack.api_url,
        requests,
        clients=clients,
        seconds=600,
        max_responses=count,
        label=f"{count:,} mixed requests, {clients} clients",
        server_pid=stack.pid("api"),
    )
    published = await _wait_until_published(stack.database_url, sub)
    return MemoryResult(
        api_start_mb=api_start,
        worker_start_mb=worker_start,
        api_after_mb=system.rss_mb(stack.pid("api")),
        worker_after_mb=system.rss_mb(stack.pid("worker")),
        load=load,
        published=published,
        mix=_mix(requests),
    )


def memory_rows(result: MemoryResult) -> list[Row]:
    load = result.load
    share = {k: round(v / sum(result.mix.values()), 3) for k, v in result.mix.items()}
    details: dict[str, Any] = {"load": load.as_dict(), "published": result.published, "mix_share": share}
    after = f"after {load.requests:,} mixed requests"
    clean = load.failed == 0
    return [
        Row("6 memory", "API RSS at start", mb(result.api_start_mb), "", "", f"≤ {START_LIMIT_MB:.0f} MB",
            result.api_start_mb <= START_LIMIT_MB),
        Row("6 memory", f"API RSS {after} ({result.published} published)", mb(result.api_after_mb),
            f"start {mb(result.api_start_mb)}", f"{result.api_after_mb - result.api_start_mb:+.0f} MB",
            f"≤ {AFTER_LIMIT_MB:.0f} MB", result.api_after_mb <= AFTER_LIMIT_MB and clean, details),
        Row("6 memory", "worker RSS at start", mb(result.worker_start_mb), "", "", f"≤ {START_LIMIT_MB:.0f} MB",
            result.worker_start_mb <= START_LIMIT_MB),
        Row("6 memory", f"worker RSS {after}", mb(result.worker_after_mb), f"start {mb(result.worker_start_mb)}",
            f"{result.worker_after_mb - result.worker_start_mb:+.0f} MB", f"≤ {AFTER_LIMIT_MB:.0f} MB",
            result.worker_after_mb <= AFTER_LIMIT_MB and clean),
    ]  # fmt: skip
