"""One stack of real processes for the module: sandbox, API and worker (see stack.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import REDIS_TEST_URL, empty_tables
from tests.factories import Factory
from tests.worker.stack import Stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pg_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    redis = Redis.from_url(REDIS_TEST_URL)
    await redis.flushdb()
    await redis.aclose()
    logs: Path = tmp_path_factory.mktemp("stack")
    stack = Stack(database_url=pg_database_url, redis_url=REDIS_TEST_URL, logs=logs)
    try:
        for name in ("sandbox", "api", "worker"):
            stack.start(name)
        for name in ("sandbox", "api", "worker"):
            await stack.wait_ready(name)
        yield stack
    finally:
        stack.stop_all()
        engine = create_async_engine(pg_database_url)
        await empty_tables(engine)
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def make(stack: Stack) -> AsyncIterator[Factory]:
    """The factories, writing to the stack's database (its processes see the rows at once)."""
    async with stack.factory() as factory:
        yield factory
