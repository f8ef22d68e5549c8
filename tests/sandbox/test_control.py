"""The control API: faults, holds, latency, call budgets, reset, the published log, users."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from app.config import Settings

from .helpers import (
    BASE_URL,
    GRAPH,
    IMAGE_URL,
    REEL_URL,
    SANDBOX,
    authorize_query,
    container_status,
    control,
    create_container,
    error_of,
    exchange_code,
    get_code,
    long_token,
    make_settings,
    me,
    mounted,
    post_image,
    publish,
    wait_finished,
)


@pytest.fixture
async def token(client: httpx.AsyncClient, settings: Settings) -> str:
    return await long_token(client, settings)


@pytest.fixture
async def user_id(client: httpx.AsyncClient, token: str) -> str:
    return str((await me(client, token))["user_id"])


async def add_fault(client: httpx.AsyncClient, **fault: Any) -> dict[str, Any]:
    response = await client.post(f"{SANDBOX}/control/faults", json=fault)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def published(client: httpx.AsyncClient, username: str | None = None) -> list[dict[str, Any]]:
    params = {"username": username} if username else {}
    response = await client.get(f"{SANDBOX}/control/published", params=params)
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def image_container(client: httpx.AsyncClient, token: str, user_id: str) -> str:
    response = await create_container(client, token, user_id, image_url=IMAGE_URL)
    assert response.status_code == 200, response.text
    container_id: str = response.json()["id"]
    return container_id


class TestFaults:
    async def test_error(self, client: httpx.AsyncClient, token: str) -> None:
        fault = await add_fault(
            client, endpoint="me", kind="error", count=2, code=100, subcode=33, message="flaky object"
        )
        assert fault["remaining"] == 2
        for _ in range(2):
            response = await client.get(f"{GRAPH}/me", params={"access_token": token})
            assert response.status_code == 400
            error = error_of(response)
            assert (error["code"], error["error_subcode"], error["type"], error["message"]) == (
                100,
                33,
                "IGApiException",
                "flaky object",
            )
            assert "x-app-usage" in response.headers
        assert (await client.get(f"{GRAPH}/me", params={"access_token": token})).status_code == 200
        assert (await control(client, "GET", "/faults"))["faults"] == []

    async def test_error_with_custom_status(self, client: httpx.AsyncClient, token: str) -> None:
        await add_fault(client, endpoint="me", kind="error", code=190, subcode=467, http_status=401)
        response = await client.get(f"{GRAPH}/me", params={"access_token": token})
        assert response.status_code == 401 and error_of(response)["error_subcode"] == 467

    async def test_throttle(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await add_fault(client, endpoint="media_list", kind="throttle", regain_minutes=7)
        response = await client.get(f"{GRAPH}/{user_id}/media", params={"access_token": token})
        assert response.status_code == 400
        error = error_of(response)
        assert (error["code"], error["is_transient"]) == (80002, True)
        (usage,) = json.loads(response.headers["x-business-use-case-usage"])[user_id]
        assert usage["estimated_time_to_regain_access"] == 7 and usage["call_count"] == 100

    async def test_server_error(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await add_fault(client, endpoint="media_create", kind="server_error")
        response = await create_container(client, token, user_id, image_url=IMAGE_URL)
        assert response.status_code == 500
        error = error_of(response)
        assert (error["code"], error["is_transient"]) == (2, True)
        assert (await control(client, "GET", ""))["counts"]["containers"] == 0

    async def test_timeout(self, client: httpx.AsyncClient, token: str) -> None:
        await add_fault(client, endpoint="me", kind="timeout", seconds=0.3)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.get(f"{GRAPH}/me", params={"access_token": token}), 0.1)
        await add_fault(client, endpoint="me", kind="timeout", seconds=0.2)
        started = time.monotonic()
        slow = await client.get(f"{GRAPH}/me", params={"access_token": token})
        assert slow.status_code == 200 and time.monotonic() - started >= 0.2

    async def test_response_lost(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await image_container(client, token, user_id)
        await add_fault(client, endpoint="media_publish", kind="response_lost")
        response = await publish(client, token, user_id, container_id)
        assert response.status_code == 500
        assert error_of(response)["code"] == 1
        # The publish happened: the container says so, the log shows it, a retry publishes nothing.
        assert (await container_status(client, token, container_id))["status_code"] == "PUBLISHED"
        assert [e["container_id"] for e in await published(client)] == [container_id]
        retry = await publish(client, token, user_id, container_id)
        assert error_of(retry)["error_subcode"] == 2207008
        assert len(await published(client)) == 1

    async def test_response_lost_as_timeout(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        container_id = await image_container(client, token, user_id)
        await add_fault(client, endpoint="media_publish", kind="response_lost", mode="timeout", seconds=0.3)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(publish(client, token, user_id, container_id), 0.15)
        assert [e["container_id"] for e in await published(client)] == [container_id]
        await asyncio.sleep(0.2)  # let the detached call finish its sleep

    async def test_container_error(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await add_fault(client, endpoint="media_create", kind="container_error", subcode=2207001)
        created = await create_container(client, token, user_id, media_type="REELS", video_url=REEL_URL)
        status = await wait_finished(client, token, created.json()["id"])
        assert status["status"] == "Error: Media upload has failed with error code 2207001"

    async def test_oauth_endpoints(self, client: httpx.AsyncClient, settings: Settings) -> None:
        await add_fault(client, endpoint="authorize", kind="server_error")
        page = await client.get(f"{SANDBOX}/oauth/authorize", params=authorize_query(settings))
        assert page.status_code == 500 and "text/html" in page.headers["content-type"]
        code = await get_code(client, settings)
        await add_fault(client, endpoint="access_token", kind="error", message="Something broke")
        failed = await exchange_code(client, settings, code)
        assert failed.status_code == 400
        assert failed.json() == {"error_type": "OAuthException", "code": 400, "error_message": "Something broke"}
        assert (await exchange_code(client, settings, code)).status_code == 200

    @pytest.mark.parametrize(
        "fault",
        [
            {"endpoint": "nope", "kind": "error"},
            {"endpoint": "me", "kind": "explode"},
            {"endpoint": "me", "kind": "container_error"},
            {"endpoint": "me:VARIANT", "kind": "error"},
            {"endpoint": "me", "kind": "error", "count": 0},
            {"endpoint": "me", "kind": "error", "surprise": 1},
        ],
    )
    async def test_invalid_faults(self, client: httpx.AsyncClient, fault: dict[str, Any]) -> None:
        response = await client.post(f"{SANDBOX}/control/faults", json=fault)
        assert response.status_code == 400
        assert set(response.json()) == {"error"}

    async def test_clear(self, client: httpx.AsyncClient, token: str) -> None:
        await add_fault(client, endpoint="me", kind="server_error", count=5)
        assert (await control(client, "DELETE", "/faults")) == {"faults": []}
        assert (await client.get(f"{GRAPH}/me", params={"access_token": token})).status_code == 200


class TestHolds:
    async def wait_held(self, client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
        for _ in range(100):
            held: list[dict[str, Any]] = (await control(client, "GET", "/holds"))["held"]
            if len(held) >= count:
                return held
            await asyncio.sleep(0.01)
        raise AssertionError("no held call")

    async def test_publish_completes_after_the_caller_is_gone(
        self, client: httpx.AsyncClient, token: str, user_id: str
    ) -> None:
        container_id = await image_container(client, token, user_id)
        await control(client, "POST", "/holds", {"endpoint": "media_publish"})
        caller = asyncio.create_task(publish(client, token, user_id, container_id))
        (held,) = await self.wait_held(client, 1)
        assert held["endpoint"] == "media_publish" and held["path"] == f"/{user_id}/media_publish"
        assert (await control(client, "GET", "/holds"))["armed"] == {}
        caller.cancel()  # the caller dies while its call is held
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert await published(client) == []
        released = await control(client, "POST", "/holds/release", {"id": held["id"]})
        assert released == {"released": [held["id"]]}
        for _ in range(100):
            if await published(client):
                break
            await asyncio.sleep(0.01)
        assert [e["container_id"] for e in await published(client)] == [container_id]
        assert (await container_status(client, token, container_id))["status_code"] == "PUBLISHED"

    async def test_release_all(self, client: httpx.AsyncClient, token: str) -> None:
        await control(client, "POST", "/holds", {"endpoint": "me", "count": 2})
        calls = [asyncio.create_task(client.get(f"{GRAPH}/me", params={"access_token": token})) for _ in range(3)]
        await self.wait_held(client, 2)
        done, _ = await asyncio.wait(calls, timeout=0.1)
        assert len(done) == 1  # the third call wasn't held
        assert len((await control(client, "POST", "/holds/release", {"all": True}))["released"]) == 2
        assert [c.status_code for c in await asyncio.gather(*calls)] == [200, 200, 200]

    async def test_delete_releases_and_disarms(self, client: httpx.AsyncClient, token: str) -> None:
        await control(client, "POST", "/holds", {"endpoint": "me", "count": 3})
        call = asyncio.create_task(client.get(f"{GRAPH}/me", params={"access_token": token}))
        await self.wait_held(client, 1)
        assert len((await control(client, "DELETE", "/holds"))["released"]) == 1
        assert (await call).status_code == 200
        assert await control(client, "GET", "/holds") == {"armed": {}, "held": []}

    async def test_reset_aborts_held_calls(self, client: httpx.AsyncClient, token: str) -> None:
        await control(client, "POST", "/holds", {"endpoint": "me"})
        call = asyncio.create_task(client.get(f"{GRAPH}/me", params={"access_token": token}))
        await self.wait_held(client, 1)
        await control(client, "POST", "/reset")
        response = await call
        assert response.status_code == 500 and error_of(response)["code"] == 2

    async def test_release_needs_a_target(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{SANDBOX}/control/holds/release", json={})
        assert response.status_code == 400


class TestLatency:
    async def test_endpoint_latency(self, client: httpx.AsyncClient, token: str) -> None:
        await control(client, "PUT", "/latency", {"endpoint": "me", "seconds": 0.2})
        started = time.monotonic()
        await me(client, token)
        assert time.monotonic() - started >= 0.2
        await control(client, "DELETE", "/latency")
        started = time.monotonic()
        await me(client, token)
        assert time.monotonic() - started < 0.2

    async def test_variant(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await control(client, "PUT", "/latency", {"endpoints": {"media_create:STORIES": 0.2}})
        started = time.monotonic()
        await image_container(client, token, user_id)
        assert time.monotonic() - started < 0.2
        started = time.monotonic()
        story = await create_container(client, token, user_id, media_type="STORIES", image_url=IMAGE_URL)
        assert story.status_code == 200 and time.monotonic() - started >= 0.2

    async def test_seed_profile_matches_the_benchmark_table(self, client: httpx.AsyncClient) -> None:
        latency = (await control(client, "PUT", "/latency", {"profile": "seed"}))["endpoints"]

        def total(*names: str) -> float:
            return round(sum(float(latency.get(n, latency.get(n.split(":")[0], 0.0))) for n in names), 3)

        assert total("access_token", "exchange_token", "me") == 1.2
        assert total("media_create", "object_get", "media_publish") == 0.8
        assert total("media_create:STORIES", "object_get", "media_publish:STORIES") == 0.6
        assert total("media_insights") == 0.5
        assert total("me") == total("user") == 0.4
        assert total("media_list") == 0.7

    async def test_profile_from_settings(self) -> None:
        app = mounted(make_settings(sandbox_latency_profile="seed"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
            latency = await control(http, "GET", "/latency")
            assert latency["profile"] == "seed" and latency["endpoints"]["media_list"] == 0.7

    async def test_invalid(self, client: httpx.AsyncClient) -> None:
        for body in ({"profile": "warp"}, {"endpoint": "nope", "seconds": 1}, {"seconds": -1, "endpoint": "me"}):
            response = await client.put(f"{SANDBOX}/control/latency", json=body)
            assert response.status_code == 400 and "error" in response.json()


class TestBudgets:
    async def test_user_budget(self, client: httpx.AsyncClient) -> None:
        created = await control(client, "POST", "/users", {"username": "budget_user"})  # no Graph call yet
        token, user_id = created["access_token"], created["user_id"]
        await control(client, "PATCH", "/settings", {"user_call_budget": 4})
        first = await client.get(f"{GRAPH}/me", params={"access_token": token})
        (usage,) = json.loads(first.headers["x-business-use-case-usage"])[user_id]
        assert usage["call_count"] == 25 and usage["estimated_time_to_regain_access"] == 0
        for _ in range(3):
            assert (await client.get(f"{GRAPH}/me", params={"access_token": token})).status_code == 200
        throttled = await client.get(f"{GRAPH}/me", params={"access_token": token})
        assert throttled.status_code == 400
        assert error_of(throttled)["code"] == 80002
        (usage,) = json.loads(throttled.headers["x-business-use-case-usage"])[user_id]
        assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] > 0
        await control(client, "POST", "/clock", {"advance_seconds": 86400})
        assert (await client.get(f"{GRAPH}/me", params={"access_token": token})).status_code == 200

    async def test_app_budget(self, client: httpx.AsyncClient) -> None:
        token = (await control(client, "POST", "/users", {"username": "first_user"}))["access_token"]
        other = (await control(client, "POST", "/users", {"username": "second_user"}))["access_token"]
        await control(client, "PATCH", "/settings", {"app_call_budget": 2})
        assert (await client.get(f"{GRAPH}/me", params={"access_token": token})).status_code == 200
        assert (await client.get(f"{GRAPH}/me", params={"access_token": other})).status_code == 200
        response = await client.get(f"{GRAPH}/me", params={"access_token": other})
        assert error_of(response)["code"] == 4
        assert json.loads(response.headers["x-app-usage"])["call_count"] == 100


class TestStateControls:
    async def test_reset(self, client: httpx.AsyncClient, token: str, user_id: str) -> None:
        await post_image(client, token, user_id)
        await add_fault(client, endpoint="me", kind="error", count=3)
        await control(client, "PUT", "/latency", {"profile": "seed"})
        await control(client, "PATCH", "/settings", {"quota_total": 1})
        await control(client, "POST", "/clock", {"advance_seconds": 3600})
        assert await control(client, "POST", "/reset") == {"status": "reset"}
        overview = await control(client, "GET", "")
        assert overview["counts"] == {"users": 0, "containers": 0, "media": 0, "published": 0}
        assert overview["faults"] == [] and overview["latency"]["endpoints"] == {}
        assert overview["clock"]["offset_seconds"] == 0 and overview["settings"]["quota_total"] == 100
        # Tokens are stateless: the user comes back, without the post.
        assert (await me(client, token))["user_id"] == user_id
        assert await published(client) == []

    async def test_clock(self, client: httpx.AsyncClient) -> None:
        assert (await control(client, "GET", "/clock"))["offset_seconds"] == 0
        assert (await control(client, "POST", "/clock", {"advance_seconds": 90}))["offset_seconds"] == 90
        backwards = await client.post(f"{SANDBOX}/control/clock", json={"advance_seconds": -1})
        assert backwards.status_code == 400

    async def test_settings(self, client: httpx.AsyncClient) -> None:
        changed = await control(client, "PATCH", "/settings", {"quota_total": 25, "video_processing_seconds": 1.5})
        assert (changed["quota_total"], changed["video_processing_seconds"]) == (25, 1.5)
        assert (await control(client, "GET", "/settings"))["quota_total"] == 25
        for body in ({"quota_total": -1}, {"token_response_shape": "round"}, {"unknown": 1}):
            assert (await client.patch(f"{SANDBOX}/control/settings", json=body)).status_code == 400

    async def test_published_filter(
        self, client: httpx.AsyncClient, settings: Settings, token: str, user_id: str
    ) -> None:
        other = await long_token(client, settings, "other_poster")
        other_id = (await me(client, other))["user_id"]
        await post_image(client, token, user_id, caption="mine")
        await post_image(client, other, other_id, caption="theirs")
        assert [e["caption"] for e in await published(client)] == ["mine", "theirs"]
        assert [e["caption"] for e in await published(client, "other_poster")] == ["theirs"]
        assert {e["ig_user_id"] for e in await published(client, "john_doe")} == {user_id}
        summary = await control(client, "GET", "/published")
        assert (summary["count"], summary["per_user"]) == (2, {"john_doe": 1, "other_poster": 1})

    async def test_users(self, client: httpx.AsyncClient) -> None:
        created = await control(
            client, "POST", "/users", {"username": "Bench_User", "scopes": ["instagram_business_basic"]}
        )
        assert created["username"] == "bench_user" and created["permissions"] == ["instagram_business_basic"]
        assert created["expires_in"] == 60 * 86400
        assert (await me(client, created["access_token"]))["user_id"] == created["user_id"]
        listed = await control(client, "GET", "/users")
        assert [u["username"] for u in listed["data"]] == ["bench_user"]
        for body in (
            {"username": "bad name"},
            {"username": "ok", "scopes": ["user_profile"]},
            {"username": "ok", "scopes": ["instagram_business_content_publish"]},
        ):
            response = await client.post(f"{SANDBOX}/control/users", json=body)
            assert response.status_code == 400 and "error" in response.json()

    async def test_index(self, client: httpx.AsyncClient) -> None:
        body = (await client.get(f"{SANDBOX}/")).json()
        assert body["graph"] == "http://localhost:8000/sandbox/graph/v25.0"
        assert (await client.get(f"{SANDBOX}/nowhere")).json() == {"error": "Not Found"}


async def test_two_sandboxes_share_nothing() -> None:
    settings = make_settings()
    first, second = mounted(settings), mounted(settings)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url=BASE_URL) as one,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url=BASE_URL) as two,
    ):
        token = await long_token(one, settings)
        user_id = (await me(one, token))["user_id"]
        await post_image(one, token, user_id)
        await control(one, "PATCH", "/settings", {"quota_total": 7})
        assert len(await published(one)) == 1
        assert await published(two) == []
        assert (await control(two, "GET", "/settings"))["quota_total"] == 100


async def test_throttle_without_a_wait_time(client: httpx.AsyncClient, token: str, user_id: str) -> None:
    await add_fault(client, endpoint="media_list", kind="throttle", regain_minutes=None)
    response = await client.get(f"{GRAPH}/{user_id}/media", params={"access_token": token})
    assert response.status_code == 400 and error_of(response)["code"] == 80002
    assert "retry-after" not in response.headers
    (usage,) = json.loads(response.headers["x-business-use-case-usage"])[user_id]
    assert usage["call_count"] == 100
    assert "estimated_time_to_regain_access" not in usage
    after = await client.get(f"{GRAPH}/{user_id}/media", params={"access_token": token})
    (usage,) = json.loads(after.headers["x-business-use-case-usage"])[user_id]
    assert after.status_code == 200 and usage["call_count"] < 100  # room again
