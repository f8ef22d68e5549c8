"""Idempotency-Key: a retried request never publishes twice, even when the retries race."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from app.db import utcnow
from app.main import app_context
from app.publishing import answers
from app.publishing.models import IdempotencyKey
from tests.conftest import auth_headers
from tests.support import API, connect_account, future, published


def _with_key(key: str) -> dict[str, str]:
    return {**auth_headers(), "Idempotency-Key": key}


async def test_same_key_same_body_answers_the_first_answer(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg", "caption": "once"}
    first = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-1"), json=body)
    second = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-1"), json=body)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await published(pg_committing_client)) == 1


async def test_same_key_other_body_is_a_conflict(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await pg_committing_client.post(
        f"{API}/posts",
        headers=_with_key("k-2"),
        json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
    )
    response = await pg_committing_client.post(
        f"{API}/posts",
        headers=_with_key("k-2"),
        json={"account_id": account["id"], "image_url": "https://example.com/b.jpg"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    other_endpoint = await pg_committing_client.post(
        f"{API}/stories",
        headers=_with_key("k-2"),
        json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
    )
    assert other_endpoint.status_code == 409
    assert len(await published(pg_committing_client)) == 1


async def test_racing_retries_publish_once(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await pg_committing_client.put("/sandbox/control/latency", json={"endpoint": "media_publish", "seconds": 0.3})
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    responses = await asyncio.gather(
        *(pg_committing_client.post(f"{API}/posts", headers=_with_key("k-race"), json=body) for _ in range(5))
    )
    assert {r.status_code for r in responses} <= {201, 202}
    assert len({r.json()["db_id"] for r in responses}) == 1
    posts = (await pg_committing_client.get(f"{API}/posts", headers=auth_headers())).json()["posts"]
    assert len(posts) == 1
    await asyncio.sleep(0.5)
    assert len(await published(pg_committing_client)) == 1


async def test_a_retry_after_throttling_resumes_the_same_post(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await pg_committing_client.post(
        "/sandbox/control/faults",
        json={"endpoint": "media_publish", "kind": "throttle", "count": 1, "regain_minutes": 0},
    )
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    throttled = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-3"), json=body)
    assert throttled.status_code == 429
    retried = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-3"), json=body)
    assert retried.status_code == 201, retried.text
    assert retried.json()["db_id"] == throttled.json()["db_id"]
    again = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-3"), json=body)
    assert again.json() == retried.json()
    assert len(await published(pg_committing_client)) == 1


async def test_permanent_failure_is_replayed(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    await pg_committing_client.post(
        "/sandbox/control/faults", json={"endpoint": "media_create", "kind": "container_error", "subcode": 2207026}
    )
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    first = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-4"), json=body)
    assert first.status_code == 400
    second = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-4"), json=body)
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert await published(pg_committing_client) == []


async def test_refused_requests_store_nothing(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    bad = await pg_committing_client.post(
        f"{API}/posts",
        headers=_with_key("k-5"),
        json={"account_id": account["id"], "image_url": "https://example.com/a.gif"},
    )
    assert bad.status_code == 400
    fixed = await pg_committing_client.post(
        f"{API}/posts",
        headers=_with_key("k-5"),
        json={"account_id": account["id"], "image_url": "https://example.com/a.gif"},
    )
    assert fixed.status_code == 400  # the same refusal, recomputed: nothing was stored
    good = await pg_committing_client.post(
        f"{API}/posts",
        headers=_with_key("k-5"),
        json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
    )
    assert good.status_code == 201


async def test_scheduled_replay_answers_the_current_state(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg", "scheduled_at": future(days=2)}
    first = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-6"), json=body)
    second = await pg_committing_client.post(f"{API}/posts", headers=_with_key("k-6"), json=body)
    assert first.status_code == second.status_code == 202
    assert first.json()["db_id"] == second.json()["db_id"]
    assert len((await pg_committing_client.get(f"{API}/posts", headers=auth_headers())).json()["posts"]) == 1


async def test_batch_with_a_key(pg_committing_client: httpx.AsyncClient) -> None:
    for name in ("john_doe", "marketing_team"):
        await connect_account(pg_committing_client, name)
    body = {"image_url": "https://example.com/a.jpg", "caption": "all"}
    first = await pg_committing_client.post(f"{API}/batch-post", headers=_with_key("k-7"), json=body)
    second = await pg_committing_client.post(f"{API}/batch-post", headers=_with_key("k-7"), json=body)
    assert first.status_code == second.status_code == 207
    assert first.json() == second.json()
    assert len(await published(pg_committing_client)) == 2


async def test_keys_expire(pg_committing_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = pg_committing_app_and_client
    account = await connect_account(client)
    body = {"account_id": account["id"], "image_url": "https://example.com/a.jpg"}
    first = await client.post(f"{API}/posts", headers=_with_key("k-8"), json=body)
    async with app_context(app).sessionmaker() as session:
        await session.execute(update(IdempotencyKey).values(expires_at=utcnow()))
        await session.commit()
    second = await client.post(f"{API}/posts", headers=_with_key("k-8"), json=body)
    assert second.status_code == 201
    assert second.json()["db_id"] != first.json()["db_id"]


async def test_keys_are_per_user(pg_committing_client: httpx.AsyncClient) -> None:
    alice = await connect_account(pg_committing_client, "john_doe", sub="alice")
    bob = await connect_account(pg_committing_client, "bobs_shop", sub="bob")
    a = await pg_committing_client.post(
        f"{API}/posts",
        headers={**auth_headers("alice"), "Idempotency-Key": "same"},
        json={"account_id": alice["id"], "image_url": "https://example.com/a.jpg"},
    )
    b = await pg_committing_client.post(
        f"{API}/posts",
        headers={**auth_headers("bob"), "Idempotency-Key": "same"},
        json={"account_id": bob["id"], "image_url": "https://example.com/a.jpg"},
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["db_id"] != b.json()["db_id"]


async def test_bad_key(pg_committing_client: httpx.AsyncClient) -> None:
    account = await connect_account(pg_committing_client)
    response = await pg_committing_client.post(
        f"{API}/posts",
        headers=_with_key("x" * 300),
        json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]


class TestStoredAnswersAfterDataDeletion:
    """`answers.without_user_content`: what a data deletion leaves of a stored answer (end to end in
    tests/callbacks/test_api.py)."""

    def test_a_failure_keeps_its_status_code_and_ids_not_its_text(self) -> None:
        body = {"error": "Caption 'secret plans' refused", "code": "invalid_caption", "db_id": 7, "account_id": 3}
        erased = answers.without_user_content(400, body, {3}, username="deleted")
        assert erased == {**body, "error": answers.UNEXPLAINED_FAILURE}

    def test_a_first_comments_error_goes_and_its_state_stays(self) -> None:
        body = {
            "message": "Post created successfully",
            "post_id": "1789",
            "db_id": 7,
            "status": "published",
            "permalink": "https://www.instagram.com/p/abc/",
            "first_comment": {"status": "failed", "comment_id": None, "error": "'secret plans' was refused"},
        }
        erased = answers.without_user_content(201, body, {3}, username="deleted")
        assert erased == {
            **body,
            "permalink": None,
            "first_comment": {"status": "failed", "comment_id": None, "error": None},
        }

    def test_a_batch_loses_only_the_erased_accounts_names_and_errors(self) -> None:
        body = [
            {"account": "erased_brand", "account_id": 3, "status": "failed", "db_id": 7, "error": "x", "code": "c"},
            {"account": "bystander", "account_id": 4, "status": "failed", "db_id": 8, "error": "y", "code": "c"},
            {"account": "erased_brand", "account_id": 3, "status": "success", "db_id": 9, "post_id": "1"},
        ]
        erased = answers.without_user_content(207, body, {3}, username="deleted")
        assert erased == [
            {**body[0], "account": "deleted", "error": None},
            body[1],
            {**body[2], "account": "deleted"},
        ]
