"""Instagram could not download media this service serves itself (its own outage, say a database restart that
makes /media answer 503): the post waits and tries again instead of failing as if the user's media were bad."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, update

from app.db import utcnow
from app.main import app_context
from app.media.synthetic import synthetic_media
from app.publishing.models import MediaAsset, Post
from tests.conftest import auth_headers, make_settings, running_app
from tests.support import API, connect_account, future, published

DOWNLOAD_FAILED = {"endpoint": "media_create", "kind": "error", "code": 9004, "subcode": 2207052}


@pytest_asyncio.fixture
async def quick(pg_database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app committing for real, retrying after a tenth of a second."""
    async with running_app(make_settings(pg_database_url, publish_retry_base_seconds=0.1)) as pair:
        yield pair


async def _fault(client: httpx.AsyncClient, **fault: Any) -> None:
    response = await client.post("/sandbox/control/faults", json={**DOWNLOAD_FAILED, **fault})
    assert response.status_code == 201, response.text


async def _post(app: FastAPI, db_id: int) -> Post:
    async with app_context(app).sessionmaker() as session:
        post = await session.scalar(select(Post).where(Post.id == db_id))
    assert post is not None
    return post


async def _hide_assets(app: FastAPI, *, hidden: bool) -> int:
    """Make /media answer 404 for every prepared image (or serve them again): what Instagram meets when it
    cannot reach them."""
    expires_at = utcnow() + (timedelta(hours=-1) if hidden else timedelta(hours=1))
    async with app_context(app).sessionmaker() as session, session.begin():
        result = await session.execute(update(MediaAsset).values(expires_at=expires_at))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def test_a_scheduled_post_waits_for_its_media_to_be_reachable_again(
    quick: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = quick
    account = await connect_account(client)
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg", "scheduled_at": future(seconds=3)}
    scheduled = await client.post(f"{API}/posts", headers=auth_headers(), json=body)
    assert scheduled.status_code == 202, scheduled.text
    db_id = scheduled.json()["db_id"]
    assert await _hide_assets(app, hidden=True) == 1
    for _ in range(100):
        post = await _post(app, db_id)
        if post.error_code == "media_unreachable" and post.attempts >= 2:
            break
        await asyncio.sleep(0.1)
    assert (post.status, post.error_code) == ("pending", "media_unreachable"), (post.status, post.error)
    assert post.error is not None and "could not download the media this service serves" in post.error
    assert "/media/" not in post.error  # the asset's id is its secret
    assert await published(client) == []

    assert await _hide_assets(app, hidden=False) == 1
    for _ in range(100):
        post = await _post(app, db_id)
        if post.status == "published":
            break
        await asyncio.sleep(0.1)
    assert post.status == "published", (post.status, post.error)
    assert len(await published(client)) == 1


async def test_a_post_published_now_answers_502_and_its_retry_publishes_once(
    quick: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = quick
    account = await connect_account(client)
    await _fault(client)
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    headers = {**auth_headers(), "Idempotency-Key": "unreachable-1"}
    failed = await client.post(f"{API}/posts", headers=headers, json=body)
    assert failed.status_code == 502, failed.text
    answer = failed.json()
    assert (answer["code"], answer["retryable"]) == ("media_unreachable", True)
    assert answer["error"].startswith("Instagram could not download the media this service serves for the post from ")
    assert int(failed.headers["retry-after"]) >= 1
    retried = await client.post(f"{API}/posts", headers=headers, json=body)
    assert retried.status_code == 201, retried.text
    assert retried.json()["db_id"] == answer["db_id"]
    assert len(await published(client)) == 1


async def test_a_video_from_the_users_address_that_instagram_cannot_download_is_rejected(
    quick: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """Only media the service serves is its own fault: the user's video URL is the user's."""
    _, client = quick
    account = await connect_account(client)
    await _fault(client)
    body = {"account_id": account["id"], "video_url": "https://example.com/v.mp4"}
    rejected = await client.post(f"{API}/reels", headers=auth_headers(), json=body)
    assert rejected.status_code == 400, rejected.text
    assert (rejected.json()["code"], rejected.json()["retryable"]) == ("media_rejected", False)


# --- a container that ends in ERROR (a video's media is fetched after its container is made) ---------------


def _video() -> bytes:
    media = synthetic_media("https://example.com/clip_10s.mp4")
    assert media is not None
    return media.content


async def _scheduled_outcome(app: FastAPI, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Post:
    """Schedule the post 3 s from now (a second was too close under a loaded suite: the request itself can take
    longer, and a time already past is refused); the post once it is published or failed."""
    scheduled = await client.post(
        f"{API}/{path}", headers=auth_headers(), json={**body, "scheduled_at": future(seconds=3)}
    )
    assert scheduled.status_code == 202, scheduled.text
    db_id = scheduled.json()["db_id"]
    for _ in range(150):
        post = await _post(app, db_id)
        if post.status in ("published", "failed"):
            return post
        await asyncio.sleep(0.1)
    raise AssertionError(f"post {db_id} is {post.status} ({post.error})")


async def test_an_uploaded_video_instagram_could_not_download_gets_a_new_container(
    quick: tuple[FastAPI, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    """The reel's container is made, then ends in ERROR 2207052 (Instagram fetches a video afterwards): the video
    is this service's upload, so the post waits and makes a new container instead of failing for good."""
    app, client = quick
    account = await connect_account(client)
    uploaded = await client.post(
        f"{API}/uploads", headers=auth_headers(), files={"file": ("clip.mp4", _video(), "video/mp4")}
    )
    assert uploaded.status_code == 201, uploaded.text
    await _fault(client, kind="container_error", code=None, subcode=2207052)
    body = {"account_id": account["id"], "video_url": uploaded.json()["upload_id"]}
    post = await _scheduled_outcome(app, client, "reels", body)
    assert post.status == "published", (post.status, post.error)
    assert "instagram could not download the post's media from us" in caplog.text
    assert len(await published(client)) == 1


async def test_a_video_from_the_users_address_that_instagram_could_not_download_fails(
    quick: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = quick
    account = await connect_account(client)
    await _fault(client, kind="container_error", code=None, subcode=2207052)
    body = {"account_id": account["id"], "video_url": "https://example.com/v.mp4"}
    failed = await client.post(f"{API}/reels", headers=auth_headers(), json=body)
    assert failed.status_code == 400, failed.text
    assert (failed.json()["code"], failed.json()["retryable"]) == ("media_processing_failed", False)
    assert "2207052" in failed.json()["error"]


async def test_instagrams_own_processing_failure_gets_a_new_container(
    quick: tuple[FastAPI, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    """2207001 (a server error while processing): Meta's advice is to make the container again."""
    app, client = quick
    account = await connect_account(client)
    await _fault(client, kind="container_error", code=None, subcode=2207001)
    post = await _scheduled_outcome(
        app, client, "posts", {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    )
    assert post.status == "published", (post.status, post.error)
    assert "instagram failed processing the media" in caplog.text
    assert len(await published(client)) == 1


async def test_a_carousel_item_that_instagram_failed_processing_is_made_again(
    quick: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """The first item's container ends in ERROR 2207001: the items are made again, and the carousel published once."""
    app, client = quick
    account = await connect_account(client)
    await _fault(client, kind="container_error", code=None, subcode=2207001)
    items = [{"image_url": "https://example.com/1.jpg"}, {"image_url": "https://example.com/2.jpg"}]
    post = await _scheduled_outcome(app, client, "carousels", {"account_id": account["id"], "items": items})
    assert post.status == "published", (post.status, post.error)
    assert len(await published(client)) == 1
