"""Fixtures for the events tests: a real receiver on loopback, and the app (embedded jobs) allowed to reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from tests.conftest import auth_headers, make_settings, running_app
from tests.events.receiver import Receiver
from tests.support import API

# Fast retries, so that a receiver that comes back is served within a second or two.
FAST = {
    "webhook_allow_loopback": True,
    "webhook_timeout_seconds": 2.0,
    "webhook_retry_schedule": (0.2, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5),
}


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def events_app(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The whole app on both backends, jobs in-process (the embedded default), loopback receivers allowed."""
    async with running_app(make_settings(database_url, **FAST)) as pair:
        yield pair


@pytest_asyncio.fixture
async def pg_events_app(pg_database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(make_settings(pg_database_url, **FAST)) as pair:
        yield pair


async def register(client: httpx.AsyncClient, receiver: Receiver, *, sub: str = "alice", **body: Any) -> dict[str, Any]:
    """Register the receiver as an endpoint of `sub`; the receiver learns the secret to verify with."""
    response = await client.post(f"{API}/webhooks", headers=auth_headers(sub), json={"url": receiver.url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secrets.append(created["secret"])
    return created


async def feed(client: httpx.AsyncClient, sub: str = "alice", **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/events", headers=auth_headers(sub), params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page
