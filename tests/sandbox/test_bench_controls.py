"""The controls benchmarks use: many media in one call, and per-account call statistics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.sandbox.call_stats import endpoint_label

from .helpers import GRAPH, SANDBOX, control, me

FEED = "reach,views,likes"


async def new_user(client: httpx.AsyncClient, username: str) -> tuple[str, str]:
    """(user id, token) of a sandbox account made without the OAuth dance."""
    created = await control(client, "POST", "/users", {"username": username})
    return str(created["user_id"]), str(created["access_token"])


async def insights(client: httpx.AsyncClient, token: str, media_id: str) -> httpx.Response:
    return await client.get(f"{GRAPH}/{media_id}/insights", params={"metric": FEED}, headers=_bearer(token))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def media_count(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get(f"{GRAPH}/me", params={"fields": "media_count"}, headers=_bearer(token))
    assert response.status_code == 200, response.text
    return int(response.json()["media_count"])


async def wait_held(client: httpx.AsyncClient, count: int) -> None:
    for _ in range(200):
        if len((await control(client, "GET", "/holds"))["held"]) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} held calls")


class TestBulkMedia:
    async def test_adds_readable_media_with_insights(self, client: httpx.AsyncClient) -> None:
        user_id, token = await new_user(client, "bulk_owner")
        before = await media_count(client, token)
        added = await control(client, "POST", "/media", {"username": "bulk_owner", "count": 12, "max_age_days": 6})
        assert added["count"] == 12 and added["user_id"] == user_id
        ids = [m["id"] for m in added["data"]]
        assert len(set(ids)) == 12
        stamps = [datetime.fromisoformat(m["timestamp"]) for m in added["data"]]
        assert stamps == sorted(stamps, reverse=True)
        assert datetime.now(UTC) - timedelta(days=6, minutes=1) < stamps[-1] < stamps[0] < datetime.now(UTC)
        assert await media_count(client, token) == before + 12
        response = await insights(client, token, ids[-1])
        assert response.status_code == 200, response.text
        assert {m["name"] for m in response.json()["data"]} == set(FEED.split(","))
        listed = await client.get(f"{GRAPH}/{user_id}/media", params={"limit": 100}, headers=_bearer(token))
        assert set(ids) <= {m["id"] for m in listed.json()["data"]}

    async def test_not_in_the_published_log(self, client: httpx.AsyncClient) -> None:
        await control(client, "POST", "/media", {"username": "quiet_owner", "count": 3})
        assert (await control(client, "GET", "/published"))["count"] == 0

    @pytest.mark.parametrize(
        "body",
        [{"username": "not valid!", "count": 1}, {"username": "ok", "count": 0}, {"username": "ok", "count": 10_001}],
    )
    async def test_bad_input_is_a_400(self, client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        response = await client.post(f"{SANDBOX}/control/media", json=body)
        assert response.status_code == 400
        assert set(response.json()) == {"error"}


class TestCallStats:
    async def test_off_until_switched_on(self, client: httpx.AsyncClient) -> None:
        _, token = await new_user(client, "quiet")
        await me(client, token)
        assert (await control(client, "GET", "/calls"))["calls"] == 0

    async def test_counts_per_endpoint_and_account(self, client: httpx.AsyncClient) -> None:
        _, token_a = await new_user(client, "alpha_acct")
        _, token_b = await new_user(client, "beta_acct")
        media = await control(client, "POST", "/media", {"username": "alpha_acct", "count": 2})
        started = await control(client, "PUT", "/calls", {"recording": True})
        assert started["recording"] is True and started["calls"] == 0
        for item in media["data"]:
            assert (await insights(client, token_a, item["id"])).status_code == 200
        await me(client, token_a)
        await me(client, token_b)
        await client.get(f"{GRAPH}/me")  # no token: counted apart
        stats = await control(client, "GET", "/calls")
        assert stats["calls"] == 5
        assert stats["per_endpoint"] == {"GET /me": 3, "GET /{id}/insights": 2}
        per_account = {a["username"]: (a["calls"], a["max_in_flight"]) for a in stats["per_account"]}
        assert per_account == {"alpha_acct": (3, 1), "beta_acct": (1, 1), "-": (1, 1)}

    async def test_most_calls_in_flight_per_account(self, client: httpx.AsyncClient) -> None:
        _, token_a = await new_user(client, "busy_acct")
        _, token_b = await new_user(client, "calm_acct")
        media = await control(client, "POST", "/media", {"username": "busy_acct", "count": 3})
        await control(client, "PUT", "/calls", {"recording": True})
        await control(client, "POST", "/holds", {"endpoint": "media_insights", "count": 3})
        calls = [asyncio.create_task(insights(client, token_a, m["id"])) for m in media["data"]]
        await wait_held(client, 3)
        await me(client, token_b)  # another account's call while three are held
        await control(client, "POST", "/holds/release", {"all": True})
        assert [r.status_code for r in await asyncio.gather(*calls)] == [200, 200, 200]
        await insights(client, token_a, media["data"][0]["id"])  # one more, alone: the maximum stays 3
        stats = await control(client, "GET", "/calls")
        assert stats["max_in_flight_per_account"] == 3
        per_account = {a["username"]: (a["calls"], a["max_in_flight"]) for a in stats["per_account"]}
        assert per_account == {"busy_acct": (4, 3), "calm_acct": (1, 1)}

    async def test_switching_off_keeps_the_figures(self, client: httpx.AsyncClient) -> None:
        _, token = await new_user(client, "paused_acct")
        await control(client, "PUT", "/calls", {"recording": True})
        await me(client, token)
        stopped = await control(client, "PUT", "/calls", {"recording": False})
        await me(client, token)
        assert stopped["calls"] == 1 and (await control(client, "GET", "/calls"))["calls"] == 1
        restarted = await control(client, "PUT", "/calls", {"recording": True})
        assert restarted["calls"] == 0 and restarted["per_account"] == []

    @pytest.mark.parametrize(
        ("method", "path", "label"),
        [
            ("GET", "/v25.0/17841400000000001/insights", "GET /{id}/insights"),
            ("POST", "/17841400000000001/media_publish", "POST /{id}/media_publish"),
            ("GET", "/v25.0/me", "GET /me"),
            ("GET", "/refresh_access_token", "GET /refresh_access_token"),
            ("GET", "/17912345678901234", "GET /{id}"),
            ("GET", "/", "GET /"),
        ],
    )
    def test_endpoint_labels(self, method: str, path: str, label: str) -> None:
        assert endpoint_label(method, path) == label
