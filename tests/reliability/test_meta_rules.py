"""Meta's failure rules through the whole service, against the sandbox (which refuses what Instagram refuses)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio

from tests.conftest import auth_headers, make_settings, running_app
from tests.support import API, connect_account, control


@pytest_asyncio.fixture
async def client(pg_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Short request waits: a deferred post answers 202 quickly.
    async with running_app(make_settings(pg_database_url, publish_wait_seconds=1.0)) as (_, http):
        yield http


async def _published_post(client: httpx.AsyncClient, account_id: int) -> int:
    response = await client.post(
        f"{API}/posts",
        headers=auth_headers(),
        json={"account_id": account_id, "image_url": "https://example.com/a.jpg"},
    )
    assert response.status_code == 201, response.text
    db_id: int = response.json()["db_id"]
    return db_id


async def test_a_metric_instagram_stopped_serving_is_dropped_not_fatal(client: httpx.AsyncClient) -> None:
    account = await connect_account(client)
    db_id = await _published_post(client, account["id"])
    patched = await client.patch("/sandbox/control/settings", json={"withdrawn_media_metrics": {"FEED": ["saved"]}})
    assert patched.status_code == 200
    for _ in range(2):  # the second read asks without it at once (remembered for FEED)
        response = await client.get(f"{API}/{db_id}/insights", headers=auth_headers())
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["saved"] is None
        assert body["reach"] is not None and body["likes"] is not None
        assert body["stale"] is False


async def test_small_accounts_get_account_insights_without_follows_and_unfollows(client: httpx.AsyncClient) -> None:
    small = await connect_account(client, "corner_shop_followers42")
    assert small["followers_count"] == 42
    response = await client.get(f"{API}/account/insights", params={"account_id": small["id"]}, headers=auth_headers())
    assert response.status_code == 200, response.text
    metrics = response.json()["metrics"]
    assert "follows_and_unfollows" not in metrics
    assert "reach" in metrics
    big = await connect_account(client, "big_brand")
    response = await client.get(f"{API}/account/insights", params={"account_id": big["id"]}, headers=auth_headers())
    assert "follows_and_unfollows" in response.json()["metrics"]


async def test_an_account_throttled_without_a_wait_time_is_left_alone(client: httpx.AsyncClient) -> None:
    account = await connect_account(client)
    await control(client, "faults", {"endpoint": "user", "kind": "throttle", "regain_minutes": None, "count": 1})
    params = {"account_id": account["id"]}
    first = await client.get(f"{API}/account/info", params=params, headers=auth_headers())
    assert first.status_code == 429, first.text
    assert first.headers["Retry-After"] == "60"
    # The fault is spent: had the service called Instagram again, it would have been answered.
    second = await client.get(f"{API}/account/info", params=params, headers=auth_headers())
    assert second.status_code == 429
    assert 0 < int(second.headers["Retry-After"]) <= 60
    assert (await control(client, "faults"))["faults"] == []


async def test_a_media_download_timeout_is_retried_later_not_a_refusal(client: httpx.AsyncClient) -> None:
    account = await connect_account(client)
    fault = {"endpoint": "media_create", "kind": "error", "code": -2, "subcode": 2207003, "message": "Timeout"}
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}

    # Inside a request: answered now, retryable, with Meta's wait (it used to be a final 400 "rejected").
    await control(client, "faults", fault)
    response = await client.post(f"{API}/posts", headers=auth_headers(), json=body)
    assert response.status_code == 502, response.text
    assert response.json()["retryable"] is True
    assert 30 <= int(response.headers["Retry-After"]) <= 120

    # In the background: the post waits 30 s to 2 minutes and is tried again, nothing is refused.
    await control(client, "faults", fault)
    accepted = await client.post(f"{API}/posts", headers={**auth_headers(), "Prefer": "respond-async"}, json=body)
    assert accepted.status_code == 202, accepted.text
    post = await _settled(client, accepted.json()["db_id"])
    assert post["status"] == "pending"
    assert post["error_code"] == "instagram_unavailable"
    waited = datetime.fromisoformat(post["next_attempt_at"]) - datetime.now(UTC)
    assert timedelta(seconds=20) < waited <= timedelta(seconds=120)


async def _settled(client: httpx.AsyncClient, db_id: int) -> dict[str, Any]:
    """The post once its first background attempt has been made (it then has a next attempt)."""
    for _ in range(100):
        post: dict[str, Any] = (await client.get(f"{API}/posts/{db_id}", headers=auth_headers())).json()
        if post.get("next_attempt_at") and post.get("error_code"):
            return post
        await asyncio.sleep(0.05)
    raise AssertionError(f"post {db_id} was never attempted: {post}")


async def test_a_read_meta_says_to_retry_soon_tells_when_and_a_plain_failure_does_not(
    client: httpx.AsyncClient,
) -> None:
    """The one failure table: a retryable 502 whose wait is known says Retry-After on every route, not only
    publishing's; an Instagram failure without a known wait stays a bare 502."""
    account = await connect_account(client)
    params = {"account_id": account["id"]}
    soon = {"endpoint": "user", "kind": "error", "code": -2, "subcode": 2207003, "message": "Timeout", "count": 5}
    await control(client, "faults", soon)
    response = await client.get(f"{API}/account/info", params=params, headers=auth_headers())
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "instagram_unavailable"
    assert 30 <= int(response.headers["Retry-After"]) == response.json()["retry_after"] <= 120
    await client.delete("/sandbox/control/faults")
    await control(client, "faults", {"endpoint": "user", "kind": "server_error", "count": 20})
    response = await client.get(f"{API}/account/info", params=params, headers=auth_headers())
    assert response.status_code == 502, response.text
    assert "Retry-After" not in response.headers and "retry_after" not in response.json()
