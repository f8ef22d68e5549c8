"""A lost or refused database answers 503 `unavailable` with Retry-After, never 500; a post stored while
Redis is down answers as stored (202 with its db_id) and is published once Redis is back.

The dependencies go away for real: the app reaches PostgreSQL and Redis through a loopback proxy that the
test stops (new connections refused, open ones reset) and starts again, or through a closed port.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest_asyncio
from arq import func
from arq.worker import Worker
from fastapi import FastAPI
from redis.asyncio import Redis

from app.context import AppContext
from app.jobs import registry
from app.jobs.connection import redis_client
from app.main import app_context
from app.publishing.tasks import sweep_posts
from tests.conftest import REDIS_TEST_URL, auth_headers, make_settings, running_app
from tests.reliability.tcp_proxy import TcpProxy
from tests.support import API, connect_account, future, published


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


@pytest_asyncio.fixture
async def redis_proxy() -> AsyncIterator[TcpProxy]:
    target = urlsplit(REDIS_TEST_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    redis = Redis.from_url(REDIS_TEST_URL)
    await redis.flushdb()
    await redis.aclose()
    yield proxy
    await proxy.stop()


async def _run_jobs(ctx: AppContext, redis_url: str) -> None:
    """What the worker does once Redis answers again: its sweeper enqueues what is due, arq runs it
    (a real arq Worker on the same Redis, in burst mode: until no job is queued, deferred ones included)."""
    assert await sweep_posts({"app": ctx}) > 0
    pool = redis_client(redis_url)
    functions = [
        func(spec.function, name=spec.name, max_tries=spec.max_tries)  # type: ignore[arg-type]
        for spec in registry.JOBS
    ]
    worker = Worker(
        functions,
        redis_pool=pool,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        ctx={"app": ctx},
    )
    try:
        await asyncio.wait_for(worker.async_run(), 60)
    finally:
        await pool.aclose()


class TestRedis:
    async def test_posts_stored_while_redis_is_down_answer_202_and_are_published_once_it_is_back(
        self, pg_database_url: str, redis_proxy: TcpProxy
    ) -> None:
        """Every publishing entry point that hands posts to the queue, with Redis refusing connections:
        the posts are stored, so each answers its normal 202 with the post's db_id (never a 503 for a
        post that exists). Nothing reaches Redis meanwhile; once it is back the sweeper enqueues them and
        they are published, each once, without the client sending anything again."""
        redis_url = _via(REDIS_TEST_URL, redis_proxy.port)
        async with running_app(make_settings(pg_database_url, redis_url=redis_url)) as (app, client):
            account = await connect_account(client)
            other = await connect_account(client, "jane_doe")
            headers = auth_headers()
            later = future(seconds=3)
            image = "https://example.com/a.jpg"
            await redis_proxy.stop()

            asynchronous = {**headers, "Prefer": "respond-async"}
            requests: list[tuple[str, dict[str, str], dict[str, Any]]] = [
                ("posts", headers, {"account_id": account["id"], "image_url": image, "scheduled_at": later}),
                ("reels", headers, {"account_id": account["id"], "video_url": "https://example.com/r.mp4"}),
                ("posts", asynchronous, {"account_id": account["id"], "image_url": "https://example.com/b.jpg"}),
                ("stories", asynchronous, {"account_id": account["id"], "image_url": "https://example.com/s.jpg"}),
                (
                    "carousels",
                    asynchronous,
                    {
                        "account_id": account["id"],
                        "items": [{"image_url": "https://example.com/c1.jpg"}, {"image_url": image}],
                    },
                ),
            ]
            db_ids: list[int] = []
            for endpoint, request_headers, body in requests:
                response = await client.post(f"{API}/{endpoint}", headers=request_headers, json=body)
                assert response.status_code == 202, (endpoint, response.text)
                answer = response.json()
                assert answer["status"] in ("scheduled", "pending"), answer
                assert response.headers["Location"].endswith(f"/posts/{answer['db_id']}")
                db_ids.append(answer["db_id"])

            batch = {"image_url": "https://example.com/batch.jpg", "scheduled_at": later}
            keyed = {**headers, "Idempotency-Key": "redis-down-batch"}
            response = await client.post(f"{API}/batch-post", headers=keyed, json=batch)
            assert response.status_code == 207, response.text
            results = response.json()
            assert {r["account_id"] for r in results} == {account["id"], other["id"]}
            assert all(r["status"] == "scheduled" and r["db_id"] for r in results), results
            db_ids += [r["db_id"] for r in results]
            # The same key again while Redis is still down: the same posts, nothing new.
            replay = await client.post(f"{API}/batch-post", headers=keyed, json=batch)
            assert replay.status_code == 207
            assert [r["db_id"] for r in replay.json()] == [r["db_id"] for r in results]

            # A post published inside the request needs no Redis at all.
            inline = await client.post(
                f"{API}/posts", headers=headers, json={"account_id": other["id"], "image_url": image}
            )
            assert inline.status_code == 201, inline.text

            for db_id in db_ids:
                stored = await client.get(f"{API}/posts/{db_id}", headers=headers)
                assert stored.status_code == 200
                assert stored.json()["status"] in ("scheduled", "pending")
            assert len(await published(client)) == 1  # only the inline post

            await redis_proxy.start()
            redis = Redis.from_url(REDIS_TEST_URL)
            try:
                assert await redis.zcard("arq:queue") == 0, "nothing reached Redis while it was down"
            finally:
                await redis.aclose()
            await _run_jobs(app_context(app), redis_url)

            for db_id in db_ids:
                state = (await client.get(f"{API}/posts/{db_id}", headers=headers)).json()
                assert state["status"] == "published", state
            media = await published(client)
            assert len(media) == len(db_ids) + 1
            assert len({item["container_id"] for item in media}) == len(media)  # each published once
