"""Seed §2–4 and example 2 across real processes: PostgreSQL, Redis, the API and an arq worker."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import auth_headers
from tests.factories import Factory
from tests.worker.stack import API, ROOT, Stack

pytestmark = pytest.mark.e2e


async def test_every_kind_is_published_once(stack: Stack) -> None:
    account = await stack.connect("every_kind")
    headers = auth_headers()
    async with stack.api() as api:
        post = await api.post(
            f"{API}/posts",
            headers=headers,
            json={
                "account_id": account["id"],
                "image_url": "https://example.com/product.jpg",
                "caption": "Check out this amazing product! 🚀",
                "hashtags": ["marketing", "instagood", "socialmedia"],
            },
        )
        assert post.status_code == 201, post.text
        assert set(post.json()) >= {"message", "post_id", "db_id"}
        story = await api.post(
            f"{API}/stories",
            headers=headers,
            json={
                "account_id": account["id"],
                "image_url": "https://example.com/story.jpg",
                "text": "Back in 5 minutes!",
            },
        )
        assert story.status_code == 201, story.text
        assert set(story.json()) >= {"message", "story_id"}
        # Reels are published by the worker; the API waits for it (REEL_WAIT_SECONDS).
        reel = await api.post(
            f"{API}/reels",
            headers=headers,
            json={
                "account_id": account["id"],
                "video_url": "https://example.com/tutorial.mp4",
                "caption": "Quick tutorial! Check it out 👇 #tutorial #reels",
                "thumbnail_url": "https://example.com/thumbnail.jpg",
            },
        )
        assert reel.status_code == 201, reel.text
        assert set(reel.json()) >= {"message", "reel_id", "db_id"}
        carousel = await api.post(
            f"{API}/carousels",
            headers=headers,
            json={
                "account_id": account["id"],
                "caption": "two",
                "items": [{"image_url": "https://example.com/1.jpg"}, {"video_url": "https://example.com/2.mp4"}],
            },
        )
        assert carousel.status_code == 201, carousel.text
        when = datetime.now(UTC) + timedelta(seconds=2)
        scheduled = await api.post(
            f"{API}/posts",
            headers=headers,
            json={
                "account_id": account["id"],
                "image_url": "https://example.com/later.jpg",
                "scheduled_at": when.isoformat(),
            },
        )
        assert scheduled.status_code == 202
    state = await stack.wait_for_status(scheduled.json()["db_id"], "published", timeout=30)
    published_at = datetime.fromisoformat(state["published_at"].replace("Z", "+00:00"))
    assert timedelta(0) <= published_at - when < timedelta(seconds=30)
    media = await stack.published("every_kind")
    assert len(media) == 5
    assert len({m["media_id"] for m in media}) == 5
    assert sorted(m["media_product_type"] for m in media) == ["FEED", "FEED", "FEED", "REELS", "STORY"]


async def test_batch_post(stack: Stack, make: Factory) -> None:
    accounts = [await make.connected_account(f"batch_{i}") for i in range(3)]
    async with stack.api() as api:
        response = await api.post(
            f"{API}/batch-post",
            headers=auth_headers(),
            json={
                "image_url": "https://example.com/launch.jpg",
                "caption": "Launch day",
                "account_ids": [a.id for a in accounts],
            },
        )
    assert response.status_code == 207, response.text
    assert [r["status"] for r in response.json()] == ["success"] * 3
    for i in range(3):
        assert len(await stack.published(f"batch_{i}")) == 1


async def test_sweeper_recovers_a_post_whose_job_was_lost(stack: Stack, make: Factory) -> None:
    """Redis forgets the job (flushed, restored from nothing): the database still knows, the sweeper acts."""
    account = await make.connected_account("lost_job")
    async with stack.api() as api:
        scheduled = await api.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account.id,
                "image_url": "https://example.com/a.jpg",
                "scheduled_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
            },
        )
    db_id = scheduled.json()["db_id"]
    from redis.asyncio import Redis

    redis = Redis.from_url(stack.redis_url)
    await redis.delete(f"arq:job:publish:{db_id}")
    await redis.zrem("arq:queue", f"publish:{db_id}")
    await redis.aclose()
    # The sweeper runs every minute (and at start-up): restart the worker to sweep now.
    stack.kill("worker")
    await stack.restart("worker")
    await stack.wait_for_status(db_id, "published", timeout=30)
    assert len(await stack.published("lost_job")) == 1


async def test_tokens_never_reach_the_database_in_clear(stack: Stack) -> None:
    await stack.connect("dump_check")
    engine = create_async_engine(stack.database_url)
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM accounts"))).all()
    await engine.dispose()
    assert rows
    assert "IGAA" not in repr(rows).replace("gAAAA", "")
    await asyncio.sleep(0)


async def test_refresh_commands_run_on_demand_with_progress(stack: Stack, make: Factory) -> None:
    await make.published_post(await make.connected_account("cli_refresh"))

    async def run(command: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app",
            command,
            cwd=ROOT,
            env=stack.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        assert process.returncode == 0, output.decode()
        return output.decode()

    insights = await run("refresh-insights")
    assert "post " in insights and "done: refreshed" in insights
    tokens = await run("refresh-tokens")
    assert "done: refreshed 0, dead 0, failed 0" in tokens
