"""Fixtures: a fresh sandbox per test, mounted at /sandbox like in the service, driven over plain HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings

from .helpers import BASE_URL, make_settings, mounted


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def sandbox_app(settings: Settings) -> FastAPI:
    return mounted(settings)


@pytest.fixture
async def client(sandbox_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http
