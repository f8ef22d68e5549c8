"""What every benchmark needs: a database of its own, the real processes with the production defaults, the
accounts connected through the OAuth flow, and the sandbox tokens of those accounts for direct calls.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrations import upgrade_to_head_async
from tests.conftest import PG_ADMIN_URL, REDIS_TEST_URL, auth_headers
from tests.worker.stack import API, Stack

# tests/worker/stack.py tunes these for fast crash tests; a benchmark measures the defaults a deployment gets
# (an empty value is "unset" for the settings).
PRODUCTION_DEFAULTS = dict.fromkeys(
    (
        "LOG_LEVEL",
        "INSTAGRAM_TIMEOUT_SECONDS",
        "INSTAGRAM_RETRY_BUDGET_SECONDS",
        "WORKER_JOB_TIMEOUT_SECONDS",
        "PUBLISH_LEASE_SECONDS",
        "PUBLISH_RECONCILE_GRACE_SECONDS",
        "PUBLISH_RETRY_BASE_SECONDS",
        "CONTAINER_POLL_INITIAL_SECONDS",
        "CONTAINER_POLL_MAX_INTERVAL_SECONDS",
        "SANDBOX_VIDEO_PROCESSING_SECONDS",
        "REEL_WAIT_SECONDS",
        "PUBLISH_WAIT_SECONDS",
    ),
    "",
)
# The one exception: the insights refresh of 10,000 posts outlasts the default job timeout (120 s) today,
# and a cancelled job measures nothing.
BENCH_OVERRIDES = {**PRODUCTION_DEFAULTS, "WORKER_JOB_TIMEOUT_SECONDS": "900"}

IMAGE_URL = "https://example.com/launch.jpg"  # the sandbox's synthetic media: no network


async def create_database() -> tuple[str, str]:
    """A fresh, migrated PostgreSQL database: (url, name)."""
    name = f"instagram_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await upgrade_to_head_async(url)
    return url, name


async def drop_database(name: str) -> None:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def flush_redis(url: str = REDIS_TEST_URL) -> None:
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@dataclass(frozen=True)
class Connected:
    """An account connected through the service, with its sandbox token for calling Instagram directly."""

    id: int
    username: str
    ig_user_id: str
    sandbox_token: str


@asynccontextmanager
async def bench_stack(
    processes: tuple[str, ...] = ("sandbox", "api", "worker"),
    overrides: dict[str, str] | None = None,
    logs: Path | None = None,
) -> AsyncIterator[Stack]:
    """The real processes on a fresh database and a flushed Redis database; all stopped and dropped after.
    Their logs go to `logs` (emptied first), a new temporary directory by default."""
    url, name = await create_database()
    await flush_redis()
    if logs is None:
        logs = Path(tempfile.mkdtemp(prefix="bench-"))
    else:
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True)
    stack = Stack(
        database_url=url, redis_url=REDIS_TEST_URL, logs=logs, overrides={**BENCH_OVERRIDES, **(overrides or {})}
    )
    try:
        for process in processes:
            stack.start(process)
        for process in processes:
            await stack.wait_ready(process)
        yield stack
    finally:
        stack.stop_all()
        await drop_database(name)


async def connect_accounts(stack: Stack, sub: str, prefix: str, count: int) -> list[Connected]:
    """`count` accounts for the web-app user `sub`, each through the browser OAuth flow, a few at a time."""
    accounts: list[dict[str, Any]] = []
    for start in range(0, count, 20):  # 100 OAuth dances at once is not what is being measured
        accounts += await asyncio.gather(
            *(stack.connect(f"{prefix}_{i:03d}", sub=sub) for i in range(start, min(start + 20, count)))
        )
    tokens = await sandbox_tokens(stack, [a["account_name"] for a in accounts])
    return [
        Connected(id=int(a["id"]), username=a["account_name"], ig_user_id=a["platform_user_id"], sandbox_token=t)
        for a, t in zip(accounts, tokens, strict=True)
    ]


async def sandbox_tokens(stack: Stack, usernames: list[str]) -> list[str]:
    """A sandbox token per account (what the service holds, minted again for the direct calls)."""
    async with stack.sandbox() as sandbox:
        answers = await asyncio.gather(*(sandbox.post("/control/users", json={"username": u}) for u in usernames))
    return [str(answer.json()["access_token"]) for answer in answers]


async def set_latency(stack: Stack, endpoints: dict[str, float]) -> None:
    """Only these sandbox endpoints wait (seconds); every other answers at once."""
    async with stack.sandbox() as sandbox:
        (await sandbox.delete("/control/latency")).raise_for_status()
        if endpoints:
            (await sandbox.put("/control/latency", json={"endpoints": endpoints})).raise_for_status()


def bearer(sub: str) -> dict[str, str]:
    """The web app's JWT for user `sub`."""
    return auth_headers(sub)


__all__ = ["API", "IMAGE_URL", "Connected", "bearer", "bench_stack", "connect_accounts", "set_latency"]
