"""Crash recovery in seconds: a live runner's lease never runs out, a dead runner's posts are taken back
and handed to a live worker, its arq job released (real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest_asyncio
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import update

from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.jobs.connection import redis_client
from app.jobs.queue import ArqJobQueue, InProcessJobQueue
from app.main import app_context
from app.publishing import lease, repository
from app.publishing.lease import Claimed
from app.publishing.models import Post, PostStatus
from app.publishing.outcomes import Outcome
from app.publishing.recovery import recover_abandoned, take_back
from tests.conftest import REDIS_TEST_URL, auth_headers
from tests.support import API, connect_account, future

IN_PROGRESS = "arq:in-progress:publish:{}"


@pytest_asyncio.fixture
async def quiet_app(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> tuple[FastAPI, httpx.AsyncClient]:
    """The app with its periodic jobs stopped: the test runs the recovery itself."""
    app, _ = pg_committing_app_and_client
    jobs = app_context(app).jobs
    assert isinstance(jobs, InProcessJobQueue)
    await jobs.stop_crons()
    return pg_committing_app_and_client


@pytest_asyncio.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def _scheduled_posts(client: httpx.AsyncClient, count: int) -> list[int]:
    account = await connect_account(client)
    ids = []
    for n in range(count):
        body = {
            "account_id": account["id"],
            "image_url": f"https://example.com/r{n}.jpg",
            "scheduled_at": future(hours=1),
        }
        response = await client.post(f"{API}/posts", headers=auth_headers(), json=body)
        assert response.status_code == 202, response.text
        ids.append(int(response.json()["db_id"]))
    return ids


async def _set(ctx: AppContext, post_id: int, **values: object) -> None:
    async with unit_of_work(ctx.sessionmaker) as session:
        await session.execute(update(Post).where(Post.id == post_id).values(**values))


async def _row(ctx: AppContext, post_id: int) -> Post:
    async with ctx.sessionmaker() as session:
        post = await repository.get(session, post_id)
    assert post is not None
    return post


async def test_a_dead_runners_posts_go_to_a_live_worker_and_nothing_else_moves(
    quiet_app: tuple[FastAPI, httpx.AsyncClient], redis: Redis
) -> None:
    app, client = quiet_app
    dead, alive, lost, due = await _scheduled_posts(client, 4)
    now = utcnow()
    arq = redis_client(REDIS_TEST_URL)
    ctx = dataclasses.replace(app_context(app), jobs=ArqJobQueue(arq))
    try:
        pending = {"status": PostStatus.PENDING, "scheduled_at": None}
        # A worker was SIGKILLed mid-publish: its lease ran out, its arq job is queued and marked in progress.
        await _set(
            ctx, dead, **pending, lease_owner="dead", lease_until=now - timedelta(seconds=1), next_attempt_at=now
        )
        await arq.enqueue_job("publish_post", dead, _job_id=f"publish:{dead}")
        await redis.set(IN_PROGRESS.format(dead), b"1", px=130_000)
        # A runner that is alive holds its lease; a post whose job Redis lost is long overdue; one is just due.
        await _set(ctx, alive, **pending, lease_owner="alive", lease_until=now + timedelta(seconds=10))
        await _set(ctx, lost, **pending, next_attempt_at=now - timedelta(minutes=1))
        await _set(ctx, due, **pending, next_attempt_at=now - timedelta(seconds=1))

        assert await recover_abandoned(ctx) == [dead, lost]

        assert await redis.exists(IN_PROGRESS.format(dead)) == 0, "the dead worker's mark is dropped"
        assert await redis.zscore("arq:queue", f"publish:{dead}") is not None, "its job runs again"
        assert await redis.zscore("arq:queue", f"publish:{lost}") is not None, "the lost job is enqueued again"
        assert await redis.zscore("arq:queue", f"publish:{due}") is None
        taken = await _row(ctx, dead)
        assert taken.lease_owner is None and taken.lease_until is None
        assert (await _row(ctx, alive)).lease_owner == "alive"
        # Done once: the next round finds nothing to take over (the jobs are queued, nobody died since).
        assert await recover_abandoned(ctx) == []
    finally:
        await arq.aclose()


async def test_a_live_runner_keeps_its_lease_past_its_length_and_a_dead_ones_runs_out(
    quiet_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = quiet_app
    (post_id,) = await _scheduled_posts(client, 1)
    ctx = app_context(app)
    await _set(ctx, post_id, status=PostStatus.PENDING, scheduled_at=None, next_attempt_at=utcnow())
    seconds = 3
    claimed = await lease.claim(ctx.sessionmaker, post_id, seconds)
    assert isinstance(claimed, Claimed)

    async with lease.kept_alive(ctx.sessionmaker, claimed.owner, [post_id], seconds):
        await asyncio.sleep(seconds + 1)  # a slow call to Instagram, longer than the lease
        other = await lease.claim(ctx.sessionmaker, post_id, seconds)
        assert isinstance(other, Outcome) and other.kind == "busy", "nobody takes a post from a live runner"
        async with unit_of_work(ctx.sessionmaker) as session:
            assert await take_back(session, utcnow(), overdue_before=utcnow(), limit=10) == ([], [])

    # The runner stopped renewing without letting go (killed): its lease runs out within its length.
    held_until = (await _row(ctx, post_id)).lease_until
    assert held_until is not None
    await asyncio.sleep(max(0.0, (held_until - utcnow()).total_seconds()) + 0.2)
    async with unit_of_work(ctx.sessionmaker) as session:
        assert await take_back(session, utcnow(), overdue_before=utcnow() - timedelta(minutes=1), limit=10) == (
            [post_id],
            [],
        )
    assert (await _row(ctx, post_id)).lease_owner is None
