"""The background insights refresh against the sandbox: how many calls each account gets at once, an account that
is stuck, throttled or failing never holding up the others, and a run killed midway continued by the next."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, insert, select

from app.accounts.models import Account
from app.context import AppContext
from app.events.models import Event
from app.insights.models import AnalyticsSnapshot, PostAnalytics
from app.insights.refresh import MAX_FAILURES_IN_A_ROW, refresh_recent
from app.main import app_context
from app.publishing.models import Post, PostKind, PostStatus
from tests.factories import Factory

SANDBOX = "/sandbox/control"
INSIGHTS_CALLS = "GET /{id}/insights"


@dataclasses.dataclass(frozen=True)
class Seeded:
    account: Account
    post_ids: list[int]
    media_ids: list[str]


async def seed(app: FastAPI, client: httpx.AsyncClient, posts: dict[str, int]) -> dict[str, Seeded]:
    """Connected accounts, each with that many published feed posts (media added in the sandbox in one call)."""
    ctx = app_context(app)
    make = Factory(ctx, client)
    seeded: dict[str, Seeded] = {}
    for username, count in posts.items():
        account = await make.connected_account(username)
        added = await client.post(
            f"{SANDBOX}/media", json={"username": username, "count": count, "max_age_days": 5}, timeout=30
        )
        assert added.status_code == 201, added.text
        rows = [
            {
                "user_id": account.user_id,
                "account_id": account.id,
                "kind": PostKind.FEED,
                "status": PostStatus.PUBLISHED,
                "media_id": media["id"],
                "published_at": datetime.fromisoformat(media["timestamp"]),
            }
            for media in added.json()["data"]
        ]
        async with ctx.sessionmaker() as session:
            ids = list((await session.scalars(insert(Post).returning(Post.id), rows)).all())
            await session.commit()
        seeded[username] = Seeded(account, ids, [row["media_id"] for row in rows])
    return seeded


def tuned(app: FastAPI, **settings: Any) -> AppContext:
    """The app's context with some refresh settings changed."""
    ctx = app_context(app)
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=settings))


async def latency(client: httpx.AsyncClient, seconds: float) -> None:
    """Every insights call answered after `seconds`."""
    answer = await client.put(f"{SANDBOX}/latency", json={"endpoint": "media_insights", "seconds": seconds})
    answer.raise_for_status()


async def calls(client: httpx.AsyncClient) -> dict[str, Any]:
    answer: dict[str, Any] = (await client.get(f"{SANDBOX}/calls")).json()
    return answer


def calls_of(stats: dict[str, Any], username: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in stats["per_account"] if a["username"] == username)
    return found


async def refreshed_posts(ctx: AppContext) -> set[int]:
    async with ctx.sessionmaker() as session:
        return set((await session.scalars(select(PostAnalytics.post_id))).all())


async def wait_until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


@pytest.fixture
async def sandbox_calls(
    committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> tuple[FastAPI, httpx.AsyncClient]:
    """The committing app, with the sandbox counting Graph calls per account from the start of the test."""
    _, client = committing_app_and_client
    (await client.put(f"{SANDBOX}/calls", json={"recording": True})).raise_for_status()
    return committing_app_and_client


class TestConcurrency:
    async def test_each_account_gets_a_bounded_number_of_calls_at_once(
        self, sandbox_calls: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = sandbox_calls
        seeded = await seed(app, client, {"brand_a": 6, "brand_b": 6, "brand_c": 6})
        (
            await client.put(f"{SANDBOX}/latency", json={"endpoint": "media_insights", "seconds": 0.05})
        ).raise_for_status()
        (await client.put(f"{SANDBOX}/calls", json={"recording": True})).raise_for_status()
        report = await refresh_recent(
            tuned(app, insights_refresh_per_account_concurrency=2, insights_refresh_chunk_size=4)
        )
        assert report.as_dict() == {"refreshed": 18, "failed": 0, "skipped": 0}
        stats = await calls(client)
        # One call per post, and each account had exactly two in flight at most (and used them).
        assert stats["per_endpoint"] == {INSIGHTS_CALLS: 18}
        assert {a["username"]: a["max_in_flight"] for a in stats["per_account"]} == dict.fromkeys(seeded, 2)
        async with app_context(app).sessionmaker() as session:
            snapshots = await session.scalar(select(func.count()).select_from(AnalyticsSnapshot))
            events = (await session.scalars(select(Event).where(Event.type == "insights.refreshed"))).all()
        assert snapshots == 18
        assert sorted((e.data["username"], e.data["post_count"]) for e in events) == [(u, 6) for u in sorted(seeded)]

    async def test_a_stuck_account_never_holds_up_the_others(
        self, sandbox_calls: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = sandbox_calls
        seeded = await seed(app, client, {"stuck_brand": 3, "quick_one": 4, "quick_two": 4})
        ctx = tuned(app, insights_refresh_concurrency=2, insights_refresh_per_account_concurrency=1)
        (await client.post(f"{SANDBOX}/holds", json={"endpoint": "media_insights", "count": 1})).raise_for_status()
        run = asyncio.create_task(refresh_recent(ctx))
        try:

            async def one_held() -> bool:
                return len((await client.get(f"{SANDBOX}/holds")).json()["held"]) == 1

            await wait_until(one_held)
            held_path = (await client.get(f"{SANDBOX}/holds")).json()["held"][0]["path"]
            stuck = next(s for s in seeded.values() if any(f"/{m}/" in held_path for m in s.media_ids))
            others = {post_id for s in seeded.values() if s is not stuck for post_id in s.post_ids}

            async def others_done() -> bool:
                return others <= await refreshed_posts(ctx)

            # One of the two slots is taken by the held call: every other account's posts go through the other.
            await wait_until(others_done)
            assert not run.done()
        finally:
            (await client.post(f"{SANDBOX}/holds/release", json={"all": True})).raise_for_status()
        report = await run
        assert report.as_dict() == {"refreshed": 11, "failed": 0, "skipped": 0}

    async def test_a_throttled_account_is_not_called_again(
        self, sandbox_calls: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = sandbox_calls
        await seed(app, client, {"busy_brand": 6, "calm_brand": 2})
        # Three calls per account per minute; the calls that connected the accounts leave the window first.
        knobs = {"user_call_budget": 3, "user_window_seconds": 60}
        (await client.patch(f"{SANDBOX}/settings", json=knobs)).raise_for_status()
        (await client.post(f"{SANDBOX}/clock", json={"advance_seconds": 120})).raise_for_status()
        (await client.put(f"{SANDBOX}/calls", json={"recording": True})).raise_for_status()
        report = await refresh_recent(tuned(app, insights_refresh_per_account_concurrency=1))
        # busy_brand: three answered, the fourth throttled, the last two never asked for.
        assert report.as_dict() == {"refreshed": 5, "failed": 1, "skipped": 2}
        stats = await calls(client)
        assert calls_of(stats, "busy_brand")["calls"] == 4
        assert calls_of(stats, "calm_brand")["calls"] == 2

    async def test_an_account_failing_in_a_row_is_left_alone(
        self, sandbox_calls: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = sandbox_calls
        seeded = await seed(app, client, {"down_brand": 8})
        fault = {"endpoint": "media_insights", "kind": "server_error", "count": 100}
        (await client.post(f"{SANDBOX}/faults", json=fault)).raise_for_status()
        (await client.put(f"{SANDBOX}/calls", json={"recording": True})).raise_for_status()
        ctx = tuned(app, insights_refresh_per_account_concurrency=1)
        report = await refresh_recent(ctx)
        skipped = 8 - MAX_FAILURES_IN_A_ROW
        assert report.as_dict() == {"refreshed": 0, "failed": MAX_FAILURES_IN_A_ROW, "skipped": skipped}
        # Each failed post took the client's attempts (2 in tests); the skipped ones none.
        assert calls_of(await calls(client), "down_brand")["calls"] == MAX_FAILURES_IN_A_ROW * 2
        async with ctx.sessionmaker() as session:
            events = (await session.scalars(select(Event).where(Event.type == "insights.refreshed"))).all()
        assert [(e.data["account_id"], e.data["post_count"], e.data["failed_count"]) for e in events] == [
            (seeded["down_brand"].account.id, 0, MAX_FAILURES_IN_A_ROW)
        ]


class TestCrashSafety:
    async def test_a_run_killed_midway_is_continued_by_the_next(
        self, committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = committing_app_and_client
        seeded = await seed(app, client, {"long_brand": 6})
        ctx = tuned(app, insights_refresh_per_account_concurrency=1, insights_refresh_chunk_size=2)
        (
            await client.put(f"{SANDBOX}/latency", json={"endpoint": "media_insights", "seconds": 0.02})
        ).raise_for_status()
        first = asyncio.create_task(refresh_recent(ctx))

        async def first_chunk_stored() -> bool:
            return len(await refreshed_posts(ctx)) >= 2

        await wait_until(first_chunk_stored)
        first.cancel()  # the worker dies: the figures of the chunk in progress are lost, not half-written
        with pytest.raises(asyncio.CancelledError):
            await first
        stored_by_first = await refreshed_posts(ctx)
        assert 2 <= len(stored_by_first) < 6
        (await client.put(f"{SANDBOX}/calls", json={"recording": True})).raise_for_status()
        second = await refresh_recent(ctx)
        # Only what the first run did not store is read; every post has exactly one snapshot.
        assert second.as_dict() == {"refreshed": 6 - len(stored_by_first), "failed": 0, "skipped": 0}
        assert (await calls(client))["per_endpoint"] == {INSIGHTS_CALLS: 6 - len(stored_by_first)}
        async with ctx.sessionmaker() as session:
            snapshots = (await session.scalars(select(AnalyticsSnapshot.post_id))).all()
            events = (await session.scalars(select(Event).where(Event.type == "insights.refreshed"))).all()
        assert sorted(snapshots) == sorted(seeded["long_brand"].post_ids)
        # The killed run never reached the account's last chunk: the one event is the second run's.
        assert [e.data["post_count"] for e in events] == [6 - len(stored_by_first)]
        # And a third run right after finds nothing due.
        assert (await refresh_recent(ctx)).as_dict() == {"refreshed": 0, "failed": 0, "skipped": 0}

    async def test_figures_that_cannot_be_stored_count_as_failed_and_the_event_still_comes(
        self, committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = committing_app_and_client
        seeded = await seed(app, client, {"vanishing": 3})
        ctx = tuned(app, insights_refresh_per_account_concurrency=3)
        (await client.post(f"{SANDBOX}/holds", json={"endpoint": "media_insights", "count": 3})).raise_for_status()
        run = asyncio.create_task(refresh_recent(ctx))

        async def all_held() -> bool:
            return len((await client.get(f"{SANDBOX}/holds")).json()["held"]) == 3

        try:
            await wait_until(all_held)
            # A post removed while its figures are read: the account's one chunk cannot be stored.
            async with ctx.sessionmaker() as session:
                await session.execute(delete(Post).where(Post.id == seeded["vanishing"].post_ids[0]))
                await session.commit()
        finally:
            (await client.post(f"{SANDBOX}/holds/release", json={"all": True})).raise_for_status()
        report = await run
        assert report.as_dict() == {"refreshed": 0, "failed": 3, "skipped": 0}
        async with ctx.sessionmaker() as session:
            stored = await session.scalar(select(func.count()).select_from(AnalyticsSnapshot))
            events = (await session.scalars(select(Event).where(Event.type == "insights.refreshed"))).all()
        assert stored == 0
        assert [(e.data["post_count"], e.data["failed_count"]) for e in events] == [(0, 3)]
