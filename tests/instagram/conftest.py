"""Fixtures for the Instagram client tests; the helpers live in support.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .support import Harness, make_harness


@pytest.fixture
async def ig() -> AsyncIterator[Harness]:
    harness = make_harness()
    async with harness.client:
        yield harness
