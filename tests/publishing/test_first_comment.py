"""The first comment: posted once right after publishing (or after its delay), reported on the post, and never
the reason a published post fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.conftest import auth_headers, make_settings, running_app
from tests.factories import Factory
from tests.support import API, connect_account, published, until_published

TEXT = "More hashtags here #launch #team"


@pytest_asyncio.fixture
async def quick(pg_database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app committing for real, retrying quickly (a comment tried again after throttling or a lost answer)."""
    async with running_app(make_settings(pg_database_url, publish_retry_base_seconds=0.1)) as pair:
        yield pair


async def _post(client: httpx.AsyncClient, path: str = "posts", **extra: Any) -> httpx.Response:
    account = await connect_account(client)
    media = (
        {"video_url": "https://example.com/v.mp4"} if path == "reels" else {"image_url": "https://example.com/a.jpg"}
    )
    body = {"account_id": account["id"], **media, "first_comment": TEXT, **extra}
    return await client.post(f"{API}/{path}", headers=auth_headers(), json=body)


async def _fault(client: httpx.AsyncClient, **fault: Any) -> None:
    response = await client.post("/sandbox/control/faults", json={"endpoint": "comment_create", **fault})
    assert response.status_code == 201, response.text


async def _comments(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    (entry,) = await published(client)
    comments: list[dict[str, Any]] = entry["comments"]
    return comments


async def _comment_state(client: httpx.AsyncClient, db_id: int, status: str) -> dict[str, Any]:
    """The post's first comment once it reaches `status` (the step runs beside the answer)."""
    for _ in range(300):
        post = (await client.get(f"{API}/posts/{db_id}", headers=auth_headers())).json()
        if post["first_comment"]["status"] == status:
            state: dict[str, Any] = post["first_comment"]
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the first comment did not become {status}: {post['first_comment']}")


async def test_posted_right_after_publishing_and_reported(pg_client: httpx.AsyncClient) -> None:
    response = await _post(pg_client)
    assert response.status_code == 201, response.text
    body = response.json()
    (comment,) = await _comments(pg_client)
    assert comment["text"] == TEXT and comment["username"] == "john_doe"
    assert body["first_comment"] == {"status": "posted", "comment_id": comment["id"], "error": None}
    post = (await pg_client.get(f"{API}/posts/{body['db_id']}", headers=auth_headers())).json()
    assert post["first_comment"] == body["first_comment"]


async def test_a_post_without_one_keeps_the_seeds_shape(pg_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_client)
    response = await pg_client.post(
        f"{API}/posts",
        headers=auth_headers(),
        json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
    )
    assert response.status_code == 201
    assert response.json()["first_comment"] is None
    post = (await pg_client.get(f"{API}/posts/{response.json()['db_id']}", headers=auth_headers())).json()
    assert post["first_comment"] is None
    assert (await published(pg_client))[0]["comments"] == []


async def test_a_reel_comments_after_its_processing(pg_committing_client: httpx.AsyncClient) -> None:
    response = await _post(pg_committing_client, "reels")
    await until_published(pg_committing_client, response)
    state = await _comment_state(pg_committing_client, response.json()["db_id"], "posted")
    (comment,) = await _comments(pg_committing_client)
    assert state["comment_id"] == comment["id"] and comment["text"] == TEXT


async def test_a_delayed_comment_waits_its_time(pg_committing_client: httpx.AsyncClient) -> None:
    response = await _post(pg_committing_client, first_comment_delay_seconds=1)
    assert response.status_code == 201, response.text
    assert response.json()["first_comment"] == {"status": "pending", "comment_id": None, "error": None}
    assert await _comments(pg_committing_client) == []
    state = await _comment_state(pg_committing_client, response.json()["db_id"], "posted")
    assert [c["id"] for c in await _comments(pg_committing_client)] == [state["comment_id"]]


async def test_a_refused_comment_fails_but_the_post_stays_published(pg_client: httpx.AsyncClient) -> None:
    await _fault(pg_client, kind="error", code=100, message="(#100) The comment contains blocked words")
    response = await _post(pg_client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "published" and body["post_id"]
    assert body["first_comment"]["status"] == "failed"
    assert body["first_comment"]["comment_id"] is None
    assert "blocked words" in body["first_comment"]["error"]
    assert await _comments(pg_client) == []


async def test_throttled_it_waits_as_instagram_asks(pg_client: httpx.AsyncClient) -> None:
    await _fault(pg_client, kind="throttle", count=1)
    response = await _post(pg_client)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "published"
    comment = response.json()["first_comment"]
    assert comment["status"] == "pending" and "Rate limit" in comment["error"]
    assert await _comments(pg_client) == []


async def test_instagram_down_then_posted_once(quick: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = quick
    await _fault(client, kind="server_error", count=1)
    response = await _post(client)
    assert response.status_code == 201, response.text
    state = await _comment_state(client, response.json()["db_id"], "posted")
    assert [c["id"] for c in await _comments(client)] == [state["comment_id"]]


@pytest.mark.parametrize("mode", ["error", "timeout"])
async def test_a_lost_answer_is_looked_up_not_repeated(quick: tuple[FastAPI, httpx.AsyncClient], mode: str) -> None:
    """Instagram makes the comment and the answer is lost: the next try reads the comments and finds it."""
    _, client = quick
    await _fault(client, kind="response_lost", mode=mode, seconds=5)
    response = await _post(client)
    assert response.status_code == 201, response.text
    state = await _comment_state(client, response.json()["db_id"], "posted")
    (comment,) = await _comments(client)
    assert state["comment_id"] == comment["id"]


async def test_without_the_comments_permission_it_fails_saying_so(
    pg_client: httpx.AsyncClient, pg_make: Factory
) -> None:
    account = await pg_make.connected_account(
        "no_comments", scopes=["instagram_business_basic", "instagram_business_content_publish"]
    )
    response = await pg_client.post(
        f"{API}/posts",
        headers=auth_headers(),
        json={"account_id": account.id, "image_url": "https://example.com/a.jpg", "first_comment": TEXT},
    )
    assert response.status_code == 201, response.text
    comment = response.json()["first_comment"]
    assert comment["status"] == "failed"
    assert "Connect the account again and grant every requested permission" in comment["error"]
