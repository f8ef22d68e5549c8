"""One stack of real processes for the module: sandbox, API and worker (see stack.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import REDIS_TEST_URL
from tests.factories import Factory
from tests.worker.stack import Stack, running_stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pg_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(pg_database_url, REDIS_TEST_URL, tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def make(stack: Stack) -> AsyncIterator[Factory]:
    """The factories, writing to the stack's database (its processes see the rows at once)."""
    async with stack.factory() as factory:
        yield factory
