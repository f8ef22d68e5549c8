"""A lost or refused database or Redis connection answers 503 `unavailable` with Retry-After, never 500.

The dependencies go away for real: the app reaches PostgreSQL and Redis through a loopback proxy that the
test stops (new connections refused, open ones reset) and starts again, or through a closed port.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest_asyncio
from fastapi import FastAPI

from tests.conftest import REDIS_TEST_URL, auth_headers, make_settings, running_app
from tests.reliability.tcp_proxy import TcpProxy
from tests.support import API, connect_account, future


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connections to it are refused


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "unavailable"
    assert "temporarily unreachable" in body["error"]
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text


@pytest_asyncio.fixture
async def pg_proxy(pg_database_url: str) -> AsyncIterator[TcpProxy]:
    target = urlsplit(pg_database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest_asyncio.fixture
async def proxied_app(pg_database_url: str, pg_proxy: TcpProxy) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(_via(pg_database_url, pg_proxy.port))
    async with running_app(settings) as pair:
        yield pair
        await pg_proxy.start()  # running_app empties the tables through the proxy on the way out


class TestDatabase:
    async def test_lost_and_refused_connections_answer_503_and_recover(
        self, proxied_app: tuple[FastAPI, httpx.AsyncClient], pg_proxy: TcpProxy
    ) -> None:
        _, client = proxied_app
        account = await connect_account(client)
        headers = auth_headers()
        assert (await client.get(f"{API}/accounts", headers=headers)).status_code == 200

        await pg_proxy.stop()  # pooled connections reset, new ones refused
        requests: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", f"{API}/accounts", None),
            ("GET", f"{API}/accounts/{account['id']}", None),
            ("GET", f"{API}/posts", None),
            ("GET", f"{API}/posts/1", None),
            ("GET", f"{API}/account/info?account_id={account['id']}", None),
            ("POST", f"{API}/posts", {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}),
            ("DELETE", f"{API}/accounts/{account['id']}", None),
        ]
        for method, url, body in requests:
            assert_unavailable(await client.request(method, url, headers=headers, json=body))
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("down")

        await pg_proxy.start()
        listed = await client.get(f"{API}/accounts", headers=headers)
        assert listed.status_code == 200
        assert [a["id"] for a in listed.json()] == [account["id"]]
        assert (await client.get(f"{API}/accounts/{account['id']}", headers=headers)).json()["is_active"] is True

    async def test_a_database_that_was_never_there(self) -> None:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/nothing"
        settings = make_settings(url)
        from app.main import create_app

        app = create_app(settings, configure_logs=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=settings.public_base_url) as client:
                assert_unavailable(await client.get(f"{API}/accounts", headers=auth_headers()))
                assert_unavailable(await client.get(f"{API}/posts/7", headers=auth_headers()))
                # Bad input is still bad input, whatever the database's state.
                assert (await client.get(f"{API}/posts/x", headers=auth_headers())).status_code == 400
                assert (await client.get(f"{API}/accounts")).status_code == 401


class TestRedis:
    async def test_a_refused_redis_answers_503_where_a_request_needs_it(self, pg_database_url: str) -> None:
        redis_url = _via(REDIS_TEST_URL, _closed_port())
        async with running_app(make_settings(pg_database_url, redis_url=redis_url)) as (_, client):
            account = await connect_account(client)
            body = {
                "account_id": account["id"],
                "image_url": "https://example.com/a.jpg",
                "scheduled_at": future(hours=1),
            }
            assert_unavailable(await client.post(f"{API}/posts", headers=auth_headers(), json=body))
            # What needs only the database keeps working.
            assert (await client.get(f"{API}/accounts", headers=auth_headers())).status_code == 200
