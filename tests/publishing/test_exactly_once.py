"""The state machine against Instagram's failures: every post ends published exactly once, or failed clearly."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from app.db import utcnow
from app.main import app_context
from app.publishing.models import Post
from app.publishing.state_machine import Mode, advance_post
from tests.conftest import auth_headers
from tests.support import API, connect_account, future, published


async def _post(client: httpx.AsyncClient, account_id: int, path: str = "posts", **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "account_id": account_id,
        "image_url": "https://example.com/a.jpg",
        "caption": "exactly once",
        **extra,
    }
    return await client.post(f"{API}/{path}", headers=auth_headers(), json=body)


async def _fault(client: httpx.AsyncClient, **fault: Any) -> None:
    response = await client.post("/sandbox/control/faults", json=fault)
    assert response.status_code == 201, response.text


async def _row(app: FastAPI, db_id: int) -> Post:
    async with app_context(app).sessionmaker() as session:
        post = await session.scalar(select(Post).where(Post.id == db_id))
    assert post is not None
    return post


@pytest.mark.parametrize("mode", ["error", "timeout"])
async def test_publish_answer_lost_is_reconciled_not_repeated(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient], mode: str
) -> None:
    app, client = pg_committing_app_and_client
    account = await connect_account(client)
    await _fault(client, endpoint="media_publish", kind="response_lost", mode=mode, seconds=5)
    response = await _post(client, account["id"])
    assert response.status_code == 201, response.text
    [media] = await published(client)
    assert response.json()["post_id"] == media["media_id"]
    post = await _row(app, response.json()["db_id"])
    assert post.status == "published" and post.media_id == media["media_id"]


async def test_publish_refused_with_a_server_error_is_published_once_after_the_grace(
    pg_committing_client: httpx.AsyncClient,
) -> None:
    account = await connect_account(pg_committing_client)
    await _fault(pg_committing_client, endpoint="media_publish", kind="server_error", count=1)
    response = await _post(pg_committing_client, account["id"])
    assert response.status_code == 201, response.text
    assert len(await published(pg_committing_client)) == 1


async def test_spam_block_after_publishing_is_reconciled(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await _fault(
        pg_committing_client,
        endpoint="media_publish",
        kind="response_lost",
        mode="error",
        code=4,
        subcode=2207051,
        message="Publishing blocked",
    )
    response = await _post(pg_committing_client, account["id"])
    assert response.status_code == 201, response.text
    assert len(await published(pg_committing_client)) == 1


async def test_container_not_ready_waits(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await _fault(
        pg_committing_client,
        endpoint="media_publish",
        kind="error",
        code=9007,
        subcode=2207027,
        message="The media is not ready for publishing, please wait for a moment",
    )
    response = await _post(pg_committing_client, account["id"])
    assert response.status_code == 201, response.text
    assert len(await published(pg_committing_client)) == 1


async def test_container_error_fails_with_instagrams_words(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await _fault(pg_committing_client, endpoint="media_create", kind="container_error", subcode=2207026)
    response = await _post(pg_committing_client, account["id"], path="reels", video_url="https://example.com/v.mp4")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "media_processing_failed"
    assert "2207" in body["error"]
    assert body["retryable"] is False
    assert await published(pg_committing_client) == []


async def test_media_rejected_by_instagram(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await _fault(
        pg_committing_client,
        endpoint="media_create",
        kind="error",
        code=36003,
        subcode=2207009,
        message="The aspect ratio is not supported.",
    )
    response = await _post(pg_committing_client, account["id"])
    assert response.status_code == 400
    assert response.json()["error"].startswith("Instagram rejected the media")


async def test_throttling_backs_off_then_answers_429(pg_committing_client: httpx.AsyncClient) -> None:
    """Scenario 1: bounded backoff on the throttling codes, then 429 with Retry-After."""
    account = await connect_account(pg_committing_client)
    await _fault(pg_committing_client, endpoint="media_create", kind="throttle", count=10, regain_minutes=2)
    response = await _post(pg_committing_client, account["id"])
    assert response.status_code == 429
    assert response.json()["error"] == "Rate limit exceeded. Please try again later."
    assert int(response.headers["retry-after"]) >= 100


async def test_dead_token_while_publishing(pg_committing_client: httpx.AsyncClient) -> None:
    """Scenario 2."""
    account = await connect_account(pg_committing_client)
    await pg_committing_client.post("/sandbox/control/revoke", json={"username": "john_doe"})
    response = await _post(pg_committing_client, account["id"])
    assert response.status_code == 401
    assert response.json() | {"db_id": 0} == response.json() | {"db_id": 0}
    body = response.json()
    assert (body["action"], body["auth_url"], body["code"]) == (
        "redirect",
        "/api/sns/instagram/oauth/authorize",
        "instagram_reauth_required",
    )
    again = await _post(pg_committing_client, account["id"])
    assert again.status_code == 401  # now refused before any call: the account needs reconnecting


class TestQuota:
    async def test_full_quota_answers_429_saying_when_it_frees(self, pg_committing_client: httpx.AsyncClient) -> None:
        account = await connect_account(pg_committing_client)
        await pg_committing_client.patch("/sandbox/control/settings", json={"quota_total": 1})
        assert (await _post(pg_committing_client, account["id"])).status_code == 201
        response = await _post(pg_committing_client, account["id"])
        assert response.status_code == 429
        body = response.json()
        assert body["code"] == "publishing_quota_exceeded"
        assert "1 of 1 posts in 24 hours" in body["error"]
        assert "frees up around" in body["error"]
        assert int(response.headers["retry-after"]) > 23 * 3600
        assert len(await published(pg_committing_client)) == 1

    async def test_a_scheduled_post_is_deferred_instead(
        self, pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = pg_committing_app_and_client
        account = await connect_account(client)
        await client.patch("/sandbox/control/settings", json={"quota_total": 0})
        # Far enough ahead that a loaded machine still receives it in the future.
        scheduled = await _post(client, account["id"], scheduled_at=future(seconds=2))
        assert scheduled.status_code == 202, scheduled.text
        db_id = scheduled.json()["db_id"]
        for _ in range(80):
            post = await _row(app, db_id)
            if post.error_code == "publishing_quota_exceeded":
                break
            await asyncio.sleep(0.1)
        assert post.status in ("pending", "container_created")
        assert post.next_attempt_at is not None
        assert await published(client) == []


async def test_expired_container_is_recreated(pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = pg_committing_app_and_client
    account = await connect_account(client)
    await client.patch("/sandbox/control/settings", json={"video_processing_seconds": 1000})
    response = await _post(client, account["id"], path="reels", video_url="https://example.com/v.mp4", image_url=None)
    db_id = response.json()["db_id"]
    first_container = (await _row(app, db_id)).container_id
    assert first_container
    await client.patch("/sandbox/control/settings", json={"video_processing_seconds": 0})
    await client.post("/sandbox/control/clock", json={"advance_seconds": 25 * 3600})
    ctx = app_context(app)
    async with ctx.sessionmaker() as session:
        await session.execute(update(Post).where(Post.id == db_id).values(lease_until=None, next_attempt_at=None))
        await session.commit()
    for _ in range(5):
        outcome = await advance_post(ctx, db_id, Mode.BACKGROUND)
        if outcome.kind in ("published", "final"):
            break
        await asyncio.sleep(0.2)
    post = await _row(app, db_id)
    assert post.status == "published"
    assert post.container_id != first_container
    assert len(await published(client)) == 1


async def test_two_runners_at_once_publish_once(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = pg_committing_app_and_client
    account = await connect_account(client)
    scheduled = await _post(client, account["id"], scheduled_at=future(days=1))
    db_id = scheduled.json()["db_id"]
    ctx = app_context(app)
    async with ctx.sessionmaker() as session:
        await session.execute(update(Post).where(Post.id == db_id).values(status="pending", scheduled_at=None))
        await session.commit()
    await client.put("/sandbox/control/latency", json={"endpoint": "media_publish", "seconds": 0.3})
    outcomes = await asyncio.gather(*(advance_post(ctx, db_id, Mode.BACKGROUND) for _ in range(4)))
    assert sorted(o.kind for o in outcomes).count("published") == 1
    assert len(await published(client)) == 1


async def test_a_lost_answer_found_after_a_crash(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """A runner died after media_publish was sent (and Instagram did publish): the next runner reads the
    container first, waits while it cannot, and records the publication without publishing again."""
    app, client = pg_committing_app_and_client
    account = await connect_account(client)
    scheduled = await _post(client, account["id"], scheduled_at=future(days=1))
    db_id = scheduled.json()["db_id"]
    # What the dead runner did at Instagram: create the container and publish it.
    token = (await client.post("/sandbox/control/users", json={"username": "john_doe"})).json()["access_token"]
    graph = f"/sandbox/graph/v25.0/{account['platform_user_id']}"
    container = (
        await client.post(
            f"{graph}/media",
            data={"image_url": "https://example.com/a.jpg", "caption": "exactly once", "access_token": token},
        )
    ).json()["id"]
    media_id = (
        await client.post(f"{graph}/media_publish", data={"creation_id": container, "access_token": token})
    ).json()["id"]
    # What it had saved before dying.
    ctx = app_context(app)
    async with ctx.sessionmaker() as session:
        await session.execute(
            update(Post)
            .where(Post.id == db_id)
            .values(
                status="container_created",
                scheduled_at=None,
                container_id=container,
                container_created_at=utcnow(),
                publish_sent_at=utcnow(),
                lease_until=None,
                attempts=1,
            )
        )
        await session.commit()
    await _fault(client, endpoint="object_get", kind="server_error", count=2)
    outcome = await advance_post(ctx, db_id, Mode.BACKGROUND)
    assert outcome.kind == "deferred"  # cannot look: wait, never publish blindly
    assert (await _row(app, db_id)).status == "container_created"
    outcome = await advance_post(ctx, db_id, Mode.BACKGROUND)
    assert outcome.kind == "published"
    post = await _row(app, db_id)
    assert (post.status, post.media_id) == ("published", media_id)
    assert len(await published(client)) == 1
