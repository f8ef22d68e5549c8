"""Webhooks across real processes (sandbox, API under uvicorn, arq worker) on PostgreSQL and Redis, with a real
receiver on loopback verifying every signature with `standardwebhooks`; and the crash tests: the worker
SIGKILLed between a state change and its delivery, and during a delivery; the receiver down then up; Redis
flushed. Every event arrives, duplicates carry the same `webhook-id`, and a post's events arrive in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.conftest import REDIS_TEST_URL, auth_headers
from tests.events.receiver import Receiver
from tests.worker.stack import API, Stack, running_stack

pytestmark = pytest.mark.e2e

WEBHOOK_SETTINGS = {
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    # Retries every second or so for a minute: a receiver that comes back is served at once.
    "WEBHOOK_RETRY_SCHEDULE": ",".join(["0.5"] + ["1"] * 60),
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(pg_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    logs = tmp_path_factory.mktemp("events-stack")
    async with running_stack(pg_database_url, REDIS_TEST_URL, logs, WEBHOOK_SETTINGS) as running:
        yield running


async def _register(stack: Stack, receiver: Receiver, sub: str, **body: Any) -> dict[str, Any]:
    async with stack.api() as api:
        response = await api.post(f"{API}/webhooks", headers=auth_headers(sub), json={"url": receiver.url, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secrets.append(created["secret"])
    return created


async def _post(stack: Stack, sub: str, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    async with stack.api() as api:
        response = await api.post(f"{API}/{path}", headers={**auth_headers(sub), **headers}, json=body)
    assert response.status_code < 300 or response.status_code in (400, 401), response.text
    body_out = response.json()
    answer: dict[str, Any] = {"results": body_out} if isinstance(body_out, list) else dict(body_out)
    answer["http"] = response.status_code
    return answer


async def _reel(stack: Stack, sub: str, account: dict[str, Any]) -> dict[str, Any]:
    body = {"account_id": account["id"], "video_url": "https://example.com/clip.mp4"}
    return await _post(stack, sub, "reels", body, Prefer="respond-async")


async def _control(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> None:
    async with stack.sandbox() as sandbox:
        response = await sandbox.request(method, f"/control/{path}", json=body)
        assert response.status_code < 300, response.text


def _published(receiver: Receiver, db_id: int) -> bool:
    return any(r.type == "post.published" and r.payload["data"]["db_id"] == db_id for r in receiver.receipts)


async def test_published_failed_and_needs_reauth_reach_a_real_receiver(stack: Stack, receiver: Receiver) -> None:
    await _register(stack, receiver, "events_e2e")
    account = await stack.connect("events_e2e_brand", sub="events_e2e")
    image = {"account_id": account["id"], "image_url": "https://example.com/product.jpg"}
    inline = await _post(stack, "events_e2e", "posts", {**image, "caption": "now"})
    when = datetime.now(UTC) + timedelta(seconds=2)
    scheduled = await _post(stack, "events_e2e", "posts", {**image, "scheduled_at": when.isoformat()})
    reel = await _reel(stack, "events_e2e", account)
    ids = [inline["db_id"], scheduled["db_id"], reel["db_id"]]
    await receiver.wait_for(lambda _: all(_published(receiver, i) for i in ids), timeout=60)
    for receipt in receiver.of_type("post.published"):
        assert receipt.verified_by == receiver.secrets
        assert receipt.payload["data"]["permalink"], receipt.payload
    kinds = {r.payload["data"]["db_id"]: r.payload["data"]["kind"] for r in receiver.of_type("post.published")}
    assert kinds == {ids[0]: "feed", ids[1]: "feed", ids[2]: "reel"}

    await _control(stack, "POST", "faults", {"endpoint": "media_create", "kind": "container_error", "subcode": 2207026})
    bad = await _post(stack, "events_e2e", "posts", image)
    assert bad["http"] == 400
    await receiver.wait_for(lambda r: any(x.type == "post.failed" for x in r), timeout=30)
    (failed,) = receiver.of_type("post.failed")
    assert (
        failed.payload["data"]["db_id"] == bad["db_id"] and failed.payload["data"]["code"] == "media_processing_failed"
    )

    await _control(stack, "POST", "revoke", {"username": "events_e2e_brand"})
    refused = await _post(stack, "events_e2e", "posts", image)
    assert refused["http"] == 401
    await receiver.wait_for(lambda r: any(x.type == "account.needs_reauth" for x in r), timeout=30)
    reauth = receiver.of_type("account.needs_reauth")[0].payload["data"]
    assert reauth["account_id"] == account["id"] and reauth["cause"] == "api_call" and reauth["auth_url"]
    assert all(r.verified_by for r in receiver.receipts)


async def test_worker_killed_between_the_state_change_and_the_delivery(stack: Stack, receiver: Receiver) -> None:
    """The worker records the reel as published (and its event), then dies reading the permalink."""
    await _register(stack, receiver, "kill_between", events=["post.published"])
    account = await stack.connect("kill_between_brand", sub="kill_between")
    await _control(stack, "POST", "holds", {"endpoint": "media_publish", "count": 1})
    reel = await _reel(stack, "kill_between", account)
    await stack.wait_until(lambda: _held(stack, "media_publish"), timeout=30)
    # Everything read after the publish is held too: the permalink read will hang.
    await _control(stack, "POST", "holds", {"endpoint": "object_get", "count": 50})
    await _control(stack, "POST", "holds/release", {"endpoint": "media_publish"})
    await stack.wait_until(lambda: _has_status(stack, reel["db_id"], "kill_between", "published"), timeout=30)
    stack.kill("worker")
    await _control(stack, "DELETE", "holds")
    assert receiver.receipts == []
    await stack.restart("worker")
    await receiver.wait_for(lambda _: _published(receiver, reel["db_id"]), timeout=60)
    (receipt,) = receiver.of_type("post.published")
    assert (
        receipt.verified_by
        and receipt.payload["data"]["media_id"] == (await stack.post_state(reel["db_id"], "kill_between"))["post_id"]
    )


async def test_worker_killed_during_a_delivery_sends_it_again_with_the_same_id(
    stack: Stack, receiver: Receiver
) -> None:
    await _register(stack, receiver, "kill_during", events=["post.published"])
    account = await stack.connect("kill_during_brand", sub="kill_during")
    receiver.hold = True
    post = await _post(
        stack, "kill_during", "posts", {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    )
    await receiver.wait_for(lambda r: len(r) == 1, timeout=30)
    stack.kill("worker")
    receiver.release()
    await stack.restart("worker")
    await receiver.wait_for(lambda r: len(r) == 2, timeout=60)
    first, second = receiver.receipts
    assert first.id == second.id and first.body == second.body
    assert first.payload["data"]["db_id"] == post["db_id"] and second.verified_by


async def test_receiver_down_then_up_gets_everything_in_order_per_post(stack: Stack, receiver: Receiver) -> None:
    await _register(stack, receiver, "down_up", events=["post.published", "post.failed"])
    first = await stack.connect("down_up_one", sub="down_up")
    second = await stack.connect("down_up_two", sub="down_up")
    await receiver.stop()
    await _control(stack, "POST", "faults", {"endpoint": "media_create", "kind": "container_error", "subcode": 2207026})
    failing = await _post(
        stack, "down_up", "posts", {"account_id": first["id"], "image_url": "https://example.com/a.jpg"}
    )
    assert failing["http"] == 400
    async with stack.api() as api:
        retried = await api.post(f"{API}/posts/{failing['db_id']}/retry", headers=auth_headers("down_up"))
    assert retried.status_code == 201, retried.text
    batch = await _post(
        stack,
        "down_up",
        "batch-post",
        {"image_url": "https://example.com/b.jpg", "account_ids": [first["id"], second["id"]]},
    )
    assert batch["http"] == 207
    async with stack.api() as api:
        cancel_later = await api.post(
            f"{API}/posts",
            headers=auth_headers("down_up"),
            json={
                "account_id": second["id"],
                "image_url": "https://example.com/c.jpg",
                "scheduled_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
            },
        )
    later = cancel_later.json()["db_id"]
    await stack.wait_until(lambda: _has_status(stack, later, "down_up", "published"), timeout=30)
    await receiver.start()
    await receiver.wait_for(lambda r: len({x.id for x in r}) == 5, timeout=60)
    types = sorted(r.type for r in receiver.unique().values())
    assert types == ["post.failed"] + ["post.published"] * 4
    # The post that failed, then was retried and published: its two events arrived in that order.
    retried_post = [r.type for r in receiver.unique().values() if r.payload["data"]["db_id"] == failing["db_id"]]
    assert retried_post == ["post.failed", "post.published"]
    assert all(r.verified_by for r in receiver.receipts)


async def test_redis_flushed_the_sweeper_sends_what_was_pending(stack: Stack, receiver: Receiver) -> None:
    await _register(stack, receiver, "flushed", events=["post.published"])
    account = await stack.connect("flushed_brand", sub="flushed")
    stack.kill("worker")
    post = await _post(
        stack, "flushed", "posts", {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    )
    redis = Redis.from_url(stack.redis_url)
    try:
        assert await redis.zcard("arq:queue") >= 1, "the delivery job was waiting for a worker"
        await redis.flushdb()
    finally:
        await redis.aclose()
    # The sweeper runs every minute and at start-up: start the worker to sweep now.
    await stack.restart("worker")
    await receiver.wait_for(lambda _: _published(receiver, post["db_id"]), timeout=60)


async def _has_status(stack: Stack, db_id: int, sub: str, status: str) -> bool:
    return (await stack.post_state(db_id, sub)).get("status") == status


async def _held(stack: Stack, endpoint: str) -> bool:
    async with stack.sandbox() as sandbox:
        holds = (await sandbox.get("/control/holds")).json()
    return any(h["endpoint"] == endpoint for h in holds["held"])
