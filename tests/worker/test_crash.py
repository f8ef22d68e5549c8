"""Crash tests: SIGKILL the worker at each step boundary of publishing, restart it, and show from the
sandbox's own list of published media that every post is published exactly once and ends `published`.

Recovery after a SIGKILL takes the lease (PUBLISH_LEASE_SECONDS, 4 s in this stack) and the 5-second
recovery, not arq's in-progress timeout: the killed job is released and run again by the restarted worker,
which reads the post's saved state and the container's status before doing anything. (The fault matrix,
tests/reliability/test_fault_matrix.py, measures it with the default settings and a second worker.)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.accounts.models import Account
from tests.conftest import auth_headers
from tests.factories import Factory
from tests.worker.stack import API, Stack

pytestmark = pytest.mark.e2e


async def _reel(stack: Stack, account: Account, **extra: Any) -> int:
    async with stack.api() as api:
        response = await api.post(
            f"{API}/reels",
            headers={**auth_headers(), "Prefer": "respond-async"},
            json={
                "account_id": account.id,
                "video_url": "https://example.com/clip.mp4",
                "caption": "crash test",
                **extra,
            },
        )
    assert response.status_code == 202, response.text
    return int(response.json()["db_id"])


async def _held(stack: Stack, endpoint: str) -> list[dict[str, Any]]:
    async with stack.sandbox() as sandbox:
        holds = (await sandbox.get("/control/holds")).json()
    return [h for h in holds["held"] if h["endpoint"] == endpoint]


async def _control(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> None:
    async with stack.sandbox() as sandbox:
        response = await sandbox.request(method, f"/control/{path}", json=body)
        assert response.status_code < 300, response.text


async def _exactly_once(stack: Stack, username: str, db_id: int) -> None:
    state = await stack.wait_for_status(db_id, "published", timeout=60)
    media = await stack.published(username)
    assert len(media) == 1, media
    assert state["post_id"] == media[0]["media_id"]


async def test_killed_after_the_container_is_created(stack: Stack, make: Factory) -> None:
    account = await make.connected_account("crash_container")
    await _control(stack, "POST", "holds", {"endpoint": "object_get", "count": 1})
    db_id = await _reel(stack, account)
    await stack.wait_until(lambda: _has_hold(stack, "object_get"))
    state = await stack.post_state(db_id)
    assert state["container_id"], "the container id is saved before polling"
    stack.kill("worker")
    await _control(stack, "POST", "holds/release", {"all": True})
    await stack.restart("worker")
    await _exactly_once(stack, "crash_container", db_id)


async def test_killed_while_the_video_is_processing(stack: Stack, make: Factory) -> None:
    account = await make.connected_account("crash_processing")
    await _control(stack, "PATCH", "settings", {"video_processing_seconds": 3})
    try:
        db_id = await _reel(stack, account)

        async def deferred() -> bool:
            state = await stack.post_state(db_id)
            return bool(state["status"] == "container_created" and state["next_attempt_at"])

        await stack.wait_until(deferred)
        stack.kill("worker")
        await stack.restart("worker")
        await _exactly_once(stack, "crash_processing", db_id)
    finally:
        await _control(stack, "PATCH", "settings", {"video_processing_seconds": 1})


async def test_killed_right_after_media_publish_is_sent(stack: Stack, make: Factory) -> None:
    account = await make.connected_account("crash_publish_sent")
    await _control(stack, "POST", "holds", {"endpoint": "media_publish", "count": 1})
    db_id = await _reel(stack, account)
    await stack.wait_until(lambda: _has_hold(stack, "media_publish"))
    stack.kill("worker")
    # Instagram goes on with the request its caller no longer waits for.
    await _control(stack, "POST", "holds/release", {"all": True})
    await stack.wait_until(lambda: _published_count(stack, "crash_publish_sent", 1))
    state = await stack.post_state(db_id)
    assert state["status"] == "container_created" and not state["post_id"]
    await stack.restart("worker")
    await _exactly_once(stack, "crash_publish_sent", db_id)


async def test_killed_after_publish_returned_before_the_commit(stack: Stack, make: Factory) -> None:
    """The sandbox publishes and then loses the answer: the worker dies not knowing it published."""
    account = await make.connected_account("crash_answer_lost")
    await _control(
        stack,
        "POST",
        "faults",
        {"endpoint": "media_publish", "kind": "response_lost", "mode": "timeout", "seconds": 30},
    )
    db_id = await _reel(stack, account)
    await stack.wait_until(lambda: _published_count(stack, "crash_answer_lost", 1))
    stack.kill("worker")
    await stack.restart("worker")
    await _exactly_once(stack, "crash_answer_lost", db_id)


async def test_killed_between_publishing_and_the_first_comment(stack: Stack, make: Factory) -> None:
    """The comment request reaches Instagram, which makes the comment; the worker dies before saving its id.
    The next runner reads the media's comments first, finds it, and never comments again."""
    account = await make.connected_account("crash_first_comment")
    await _control(stack, "POST", "holds", {"endpoint": "comment_create", "count": 1})
    db_id = await _reel(stack, account, first_comment="Link in bio #crash")
    await stack.wait_until(lambda: _has_hold(stack, "comment_create"), timeout=40)
    state = await stack.post_state(db_id)
    assert state["status"] == "published"
    assert state["first_comment"] == {"status": "pending", "comment_id": None, "error": None}
    stack.kill("worker")
    await _control(stack, "POST", "holds/release", {"all": True})
    (media,) = await stack.published("crash_first_comment")
    assert [c["text"] for c in media["comments"]] == ["Link in bio #crash"]
    # The dead runner's lease on the post runs out (PUBLISH_LEASE_SECONDS); the sweeper of the restarted worker
    # then hands the comment to a job.
    await asyncio.sleep(float(stack.env()["PUBLISH_LEASE_SECONDS"]))
    await stack.restart("worker")

    async def commented() -> bool:
        return bool((await stack.post_state(db_id))["first_comment"]["status"] == "posted")

    await stack.wait_until(commented, timeout=60)
    (media,) = await stack.published("crash_first_comment")
    (comment,) = media["comments"]
    assert comment["text"] == "Link in bio #crash"
    assert (await stack.post_state(db_id))["first_comment"]["comment_id"] == comment["id"]


async def test_scheduled_post_survives_killing_api_and_worker(stack: Stack, make: Factory) -> None:
    account = await make.connected_account("crash_scheduled")
    when = datetime.now(UTC) + timedelta(seconds=4)
    async with stack.api() as api:
        response = await api.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account.id,
                "image_url": "https://example.com/later.jpg",
                "scheduled_at": when.isoformat(),
            },
        )
    assert response.status_code == 202
    db_id = int(response.json()["db_id"])
    stack.kill("worker")
    stack.kill("api")
    await stack.restart("api")
    await stack.restart("worker")
    state = await stack.wait_for_status(db_id, "published", timeout=60)
    published_at = datetime.fromisoformat(state["published_at"].replace("Z", "+00:00"))
    assert timedelta(0) <= published_at - when < timedelta(minutes=1)
    assert len(await stack.published("crash_scheduled")) == 1


async def _has_hold(stack: Stack, endpoint: str) -> bool:
    return bool(await _held(stack, endpoint))


async def _published_count(stack: Stack, username: str, count: int) -> bool:
    return len(await stack.published(username)) >= count
