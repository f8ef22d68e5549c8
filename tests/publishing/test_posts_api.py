"""Posts as resources: list, inspect, schedule, cancel, retry; reels that outlast the wait; async requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from fastapi import FastAPI

from app.main import app_context
from app.publishing.models import PostKind
from tests.conftest import auth_headers, make_settings, running_app
from tests.factories import Factory
from tests.support import API, connect_account, future, published


async def _wait_for(client: httpx.AsyncClient, db_id: int, status: str, timeout: float = 15.0) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        post: dict[str, object] = (await client.get(f"{API}/posts/{db_id}", headers=auth_headers())).json()
        if post["status"] == status or asyncio.get_running_loop().time() > deadline:
            return post
        await asyncio.sleep(0.1)


class TestReadingPosts:
    async def test_list_filters_and_pages(self, pg_client: httpx.AsyncClient, pg_make: Factory) -> None:
        client = pg_client
        one = await pg_make.connected_account("john_doe")
        two = await pg_make.connected_account("marketing_team")
        made = [await pg_make.published_post(account) for account in (one, one, two)]
        made.append(await pg_make.published_post(one, PostKind.STORY))
        newest_first = [post.id for post in reversed(made)]
        everything = (await client.get(f"{API}/posts", headers=auth_headers())).json()
        assert [p["db_id"] for p in everything["posts"]] == newest_first
        assert everything["next_cursor"] is None
        mine = (
            await client.get(f"{API}/posts", params={"account_id": one.id, "kind": "feed"}, headers=auth_headers())
        ).json()
        assert [p["db_id"] for p in mine["posts"]] == [made[1].id, made[0].id]
        page = (await client.get(f"{API}/posts", params={"limit": 3}, headers=auth_headers())).json()
        assert [p["db_id"] for p in page["posts"]] == newest_first[:3]
        rest = (
            await client.get(f"{API}/posts", params={"limit": 3, "cursor": page["next_cursor"]}, headers=auth_headers())
        ).json()
        assert [p["db_id"] for p in rest["posts"]] == newest_first[3:]
        assert rest["next_cursor"] is None
        bad = await client.get(f"{API}/posts", params={"status": "exploded"}, headers=auth_headers())
        assert bad.status_code == 400

    async def test_one_post_has_its_whole_state(self, pg_client: httpx.AsyncClient, pg_make: Factory) -> None:
        account = {"id": (await pg_make.connected_account()).id}
        created = (
            await pg_client.post(
                f"{API}/posts",
                headers=auth_headers(),
                json={"account_id": account["id"], "image_url": "https://example.com/a.jpg", "caption": "hi"},
            )
        ).json()
        post = (await pg_client.get(f"{API}/posts/{created['db_id']}", headers=auth_headers())).json()
        assert post["status"] == "published"
        assert post["post_id"] == created["post_id"]
        assert post["container_id"] and post["published_at"] and post["permalink"]
        assert post["attempts"] == 1
        assert post["media"] == [{"type": "image", "source_url": "https://example.com/a.jpg", "role": "image"}]
        assert (await pg_client.get(f"{API}/posts/987654321", headers=auth_headers())).status_code == 404


class TestScheduling:
    async def test_scheduled_post_publishes_at_its_time(self, pg_committing_client: httpx.AsyncClient) -> None:
        account = await connect_account(pg_committing_client)
        when = future(seconds=1.5)
        response = await pg_committing_client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={"account_id": account["id"], "image_url": "https://example.com/a.jpg", "scheduled_at": when},
        )
        assert response.status_code == 202
        body = response.json()
        assert body["status"] == "scheduled"
        assert body["status_url"] == f"/api/sns/instagram/posts/{body['db_id']}"
        assert response.headers["location"] == body["status_url"]
        assert await published(pg_committing_client) == []
        post = await _wait_for(pg_committing_client, body["db_id"], "published")
        assert post["status"] == "published"
        assert len(await published(pg_committing_client)) == 1

    async def test_past_times_are_refused(self, pg_client: httpx.AsyncClient, pg_make: Factory) -> None:
        account = await pg_make.connected_account()
        response = await pg_client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account.id,
                "image_url": "https://example.com/a.jpg",
                "scheduled_at": "2020-01-01T00:00:00+09:00",
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "scheduled_at must be in the future"

    async def test_offsets_are_respected(self, pg_client: httpx.AsyncClient, pg_make: Factory) -> None:
        account = await pg_make.connected_account()
        # 09:00 in Tokyo a month from now (always within the year allowed), which is 00:00 UTC that day.
        tokyo = timezone(timedelta(hours=9))
        local = (datetime.now(tokyo) + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
        response = await pg_client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account.id,
                "image_url": "https://example.com/a.jpg",
                "scheduled_at": local.isoformat(),
            },
        )
        assert response.status_code == 202
        assert local.isoformat().endswith("T09:00:00+09:00")
        assert response.json()["scheduled_at"] == local.astimezone(UTC).strftime("%Y-%m-%dT00:00:00Z")

    async def test_cancel(self, pg_committing_client: httpx.AsyncClient) -> None:
        account = await connect_account(pg_committing_client)
        scheduled = (
            await pg_committing_client.post(
                f"{API}/posts",
                headers=auth_headers(),
                json={
                    "account_id": account["id"],
                    "image_url": "https://example.com/a.jpg",
                    "scheduled_at": future(seconds=2),
                },
            )
        ).json()
        response = await pg_committing_client.delete(f"{API}/posts/{scheduled['db_id']}", headers=auth_headers())
        assert response.status_code == 200
        assert response.json()["post"]["status"] == "cancelled"
        await asyncio.sleep(2.5)
        assert await published(pg_committing_client) == []
        again = await pg_committing_client.delete(f"{API}/posts/{scheduled['db_id']}", headers=auth_headers())
        assert again.status_code == 409

    async def test_published_posts_cannot_be_cancelled(self, pg_client: httpx.AsyncClient, pg_make: Factory) -> None:
        done = await pg_make.published_post(await pg_make.connected_account())
        response = await pg_client.delete(f"{API}/posts/{done.id}", headers=auth_headers())
        assert response.status_code == 409
        assert response.json()["status"] == "published"


class TestWaitingAndAsync:
    async def test_reel_outlasting_the_wait_answers_202_then_publishes(self, pg_database_url: str) -> None:
        settings = make_settings(pg_database_url, reel_wait_seconds=0.3)
        async with running_app(settings) as (_, client):
            account = await connect_account(client)
            await client.patch("/sandbox/control/settings", json={"video_processing_seconds": 1.5})
            response = await client.post(
                f"{API}/reels",
                headers=auth_headers(),
                json={"account_id": account["id"], "video_url": "https://example.com/long.mp4"},
            )
            assert response.status_code == 202
            body = response.json()
            assert body["status"] in ("pending", "container_created")
            assert body["status_url"].endswith(f"/posts/{body['db_id']}")
            post = await _wait_for(client, body["db_id"], "published")
            assert post["status"] == "published"

    async def test_prefer_respond_async(self, pg_committing_client: httpx.AsyncClient) -> None:
        account = await connect_account(pg_committing_client)
        response = await pg_committing_client.post(
            f"{API}/posts",
            headers={**auth_headers(), "Prefer": "respond-async"},
            json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
        )
        assert response.status_code == 202
        post = await _wait_for(pg_committing_client, response.json()["db_id"], "published")
        assert post["status"] == "published"


class TestRetry:
    async def test_failed_post_can_be_retried(self, pg_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = pg_app_and_client
        account = await connect_account(client)
        await client.post(
            "/sandbox/control/faults",
            json={"endpoint": "media_create", "kind": "throttle", "count": 5, "regain_minutes": 0},
        )
        failed = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
        )
        assert failed.status_code == 429
        assert failed.json()["error"] == "Rate limit exceeded. Please try again later."
        assert failed.json()["retryable"] is True
        assert "retry-after" in failed.headers
        await client.delete("/sandbox/control/faults")
        retried = await client.post(f"{API}/posts/{failed.json()['db_id']}/retry", headers=auth_headers())
        assert retried.status_code == 201, retried.text
        assert retried.json()["post_id"]
        assert len(await published(client)) == 1
        post = (await client.get(f"{API}/posts/{failed.json()['db_id']}", headers=auth_headers())).json()
        assert post["attempts"] == 2
        not_failed = await client.post(f"{API}/posts/{failed.json()['db_id']}/retry", headers=auth_headers())
        assert not_failed.status_code == 409
        assert app_context(app) is not None

    async def test_retry_reprepares_media_that_expired(
        self, pg_app_and_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = pg_app_and_client
        account = await connect_account(client)
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "media_create", "kind": "server_error", "count": 5}
        )
        failed = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
        )
        assert failed.status_code == 502
        from sqlalchemy import delete

        from app.publishing.models import MediaAsset

        async with app_context(app).sessionmaker() as session:
            await session.execute(delete(MediaAsset))
            await session.commit()
        await client.delete("/sandbox/control/faults")
        retried = await client.post(f"{API}/posts/{failed.json()['db_id']}/retry", headers=auth_headers())
        assert retried.status_code == 201, retried.text


async def _scheduled_image(client: httpx.AsyncClient, image_url: str, *, seconds: float) -> dict[str, Any]:
    """A feed post of a newly connected account, scheduled `seconds` from now (its image already prepared)."""
    account = await connect_account(client)
    response = await client.post(
        f"{API}/posts",
        headers=auth_headers(),
        json={"account_id": account["id"], "image_url": image_url, "scheduled_at": future(seconds=seconds)},
    )
    assert response.status_code == 202, response.text
    scheduled: dict[str, Any] = response.json()
    return scheduled


async def test_prepared_media_are_served_then_removed(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """Instagram fetches the prepared JPEG from PUBLIC_BASE_URL/media/<id>.jpg; once published it is gone."""
    from sqlalchemy import select

    from app.publishing.media_items import ImageItem, MediaLinks
    from app.publishing.models import MediaAsset, Post

    app, client = pg_committing_app_and_client
    scheduled = await _scheduled_image(client, "https://example.com/logo_900x900.png", seconds=1)
    async with app_context(app).sessionmaker() as session:
        post = await session.scalar(select(Post).where(Post.id == scheduled["db_id"]))
    assert post is not None
    (image,) = post.media
    assert isinstance(image, ImageItem)
    url = image.instagram_url(MediaLinks("http://localhost:8000"))
    assert url == f"http://localhost:8000/media/{image.asset_id}.jpg"
    served = await client.get(url.removeprefix("http://localhost:8000"))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content[:3] == b"\xff\xd8\xff"  # the PNG was converted
    await _wait_for(client, scheduled["db_id"], "published")
    gone = await client.get(url.removeprefix("http://localhost:8000"))
    assert gone.status_code == 404
    assert gone.json()["error"] == "Media not found"
    async with app_context(app).sessionmaker() as session:
        assert (await session.scalars(select(MediaAsset))).all() == []


async def test_a_prepared_image_is_handed_over_at_the_address_the_service_has_when_it_publishes(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """The stored post keeps the asset id, never a host and port (in development they follow the port and
    change between runs); an older row that still carries a URL of a gone run is published all the same."""
    import json

    from sqlalchemy import text

    app, client = pg_committing_app_and_client
    scheduled = await _scheduled_image(client, "https://example.com/a.jpg", seconds=2)
    async with app_context(app).sessionmaker() as session:
        # The JSON as stored (the column type would read it back as typed items).
        raw = await session.scalar(text("SELECT media FROM posts WHERE id = :id"), {"id": scheduled["db_id"]})
        assert isinstance(raw, list) and len(raw) == 1
        assert "url" not in raw[0] and "localhost" not in json.dumps(raw)
        # As a previous run on another port would have stored it: Instagram would find nothing there.
        stale = [{**raw[0], "url": f"http://127.0.0.1:9/media/{raw[0]['asset_id']}.jpg"}]
        await session.execute(
            text("UPDATE posts SET media = CAST(:media AS jsonb) WHERE id = :id"),
            {"media": json.dumps(stale), "id": scheduled["db_id"]},
        )
        await session.commit()
    post = await _wait_for(client, scheduled["db_id"], "published")
    assert post["error"] is None


async def test_a_batch_image_is_served_until_the_last_of_its_posts_is_published(
    pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """A batch's posts share one prepared image: a publication releases it only once no other post needs it."""
    from sqlalchemy import select, update

    from app.publishing.media_items import ImageItem
    from app.publishing.models import Post
    from app.publishing.state_machine import Mode, advance_post

    app, client = pg_committing_app_and_client
    accounts = [await connect_account(client, name) for name in ("john_doe", "marketing_team")]
    response = await client.post(
        f"{API}/batch-post",
        headers=auth_headers(),
        json={
            "account_ids": [a["id"] for a in accounts],
            "image_url": "https://example.com/a.jpg",
            "scheduled_at": future(days=1),
        },
    )
    assert response.status_code == 207, response.text
    first, second = (entry["db_id"] for entry in response.json())
    ctx = app_context(app)
    async with ctx.sessionmaker() as session:
        images = {
            post.media[0].asset_id
            for post in await session.scalars(select(Post))
            if isinstance(post.media[0], ImageItem)
        }
        await session.execute(update(Post).values(status="pending", scheduled_at=None))
        await session.commit()
    (asset_id,) = images
    media = f"/media/{asset_id}.jpg"

    assert (await advance_post(ctx, first, Mode.BACKGROUND)).kind == "published"
    assert (await client.get(media)).status_code == 200  # the second post still needs it
    assert (await advance_post(ctx, second, Mode.BACKGROUND)).kind == "published"
    assert (await client.get(media)).status_code == 404
    assert len(await published(client)) == 2
