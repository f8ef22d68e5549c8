"""The comments API end to end against the sandbox: each step checked in the sandbox's own state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from app.accounts.models import Account
from app.comments.models import Comment
from app.db import utcnow
from app.main import app_context
from app.publishing.models import IdempotencyKey, Post
from app.sandbox.comments import new_comment
from app.sandbox.state import Sandbox
from tests.conftest import auth_headers
from tests.factories import Factory
from tests.support import API

FAN_ID = "1234567890123456"


def _sandbox(app: FastAPI) -> Sandbox:
    sandbox = app.state.sandbox_app.state.sandbox
    assert isinstance(sandbox, Sandbox)
    return sandbox


def fan_comment(app: FastAPI, media_id: str, text: str = "Where can I buy this?") -> str:
    """A comment by a fan on the media, made in the sandbox (as if written in the Instagram app)."""
    sandbox = _sandbox(app)
    return new_comment(sandbox, sandbox.world.media[media_id], author="a_fan", author_id=FAN_ID, text=text).id


async def in_sandbox(client: httpx.AsyncClient, comment_id: str) -> dict[str, Any]:
    response = await client.get(f"/sandbox/control/comments/{comment_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored(app: FastAPI, comment_id: str) -> list[Comment]:
    async with app_context(app).sessionmaker() as session:
        return list(await session.scalars(select(Comment).where(Comment.ig_comment_id == comment_id)))


async def _published(make: Factory, username: str = "john_doe", sub: str = "alice") -> tuple[Account, Post]:
    account = await make.connected_account(username, sub=sub)
    return account, await make.published_post(account)


class TestModeration:
    async def test_read_reply_hide_show_delete(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)

        listed = await client.get(f"{API}/{post.id}/comments", headers=auth_headers())
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert page["stale"] is False and page["post_id"] == post.media_id
        [comment] = page["comments"]
        assert (comment["comment_id"], comment["username"], comment["hidden"]) == (comment_id, "a_fan", False)
        assert [c.text for c in await stored(app, comment_id)] == ["Where can I buy this?"]

        replied = await client.post(
            f"{API}/comments/{comment_id}/replies", headers=auth_headers(), json={"message": "In our shop!"}
        )
        assert replied.status_code == 201, replied.text
        reply_id = replied.json()["comment_id"]
        assert replied.json()["parent_id"] == comment_id
        assert (await in_sandbox(client, reply_id))["text"] == "In our shop!"
        assert (await in_sandbox(client, comment_id))["replies"] == [reply_id]
        thread = (await client.get(f"{API}/{post.id}/comments", headers=auth_headers())).json()["comments"][0]
        assert [(r["comment_id"], r["username"]) for r in thread["replies"]] == [(reply_id, "john_doe")]

        hidden = await client.post(f"{API}/comments/{comment_id}/hide", headers=auth_headers(), json={"hidden": True})
        assert hidden.status_code == 200, hidden.text
        assert hidden.json()["hidden"] is True
        assert (await in_sandbox(client, comment_id))["hidden"] is True
        assert [c.hidden for c in await stored(app, comment_id)] == [True]
        shown = await client.post(f"{API}/comments/{comment_id}/hide", headers=auth_headers(), json={"hidden": False})
        assert shown.json()["hidden"] is False
        assert (await in_sandbox(client, comment_id))["hidden"] is False

        deleted = await client.delete(f"{API}/comments/{comment_id}", headers=auth_headers())
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"message": "Comment deleted successfully", "comment_id": comment_id}
        assert (await in_sandbox(client, comment_id))["deleted"] is True
        assert (await in_sandbox(client, reply_id))["deleted"] is True
        assert all(c.deleted_at is not None for c in await stored(app, comment_id) + await stored(app, reply_id))
        again = await client.delete(f"{API}/comments/{comment_id}", headers=auth_headers())
        assert again.status_code == 404 and again.json()["error"] == "Comment not found"
        assert (await client.get(f"{API}/{post.id}/comments", headers=auth_headers())).json()["comments"] == []

    async def test_comment_on_own_post(self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory) -> None:
        app, client = app_and_client
        _, post = await _published(make)

        made = await client.post(f"{API}/{post.id}/comments", headers=auth_headers(), json={"message": "New drop!"})

        assert made.status_code == 201, made.text
        body = made.json()
        assert body["message"] == "Comment created successfully" and body["media_id"] == post.media_id
        assert (await in_sandbox(client, body["comment_id"]))["username"] == "john_doe"
        [row] = await stored(app, body["comment_id"])
        assert (row.text, row.media_id, row.parent_id) == ("New drop!", post.media_id, None)

    async def test_a_comment_not_stored_yet_is_found_through_instagram(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        assert await stored(app, comment_id) == []

        hidden = await client.post(f"{API}/comments/{comment_id}/hide", headers=auth_headers(), json={"hidden": True})

        assert hidden.status_code == 200, hidden.text
        assert (await in_sandbox(client, comment_id))["hidden"] is True
        [row] = await stored(app, comment_id)
        assert (row.media_id, row.username, row.hidden) == (post.media_id, "a_fan", True)

    async def test_a_reply_to_a_reply_answers_the_top_level_comment(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        first = await client.post(f"{API}/comments/{comment_id}/replies", headers=auth_headers(), json={"message": "1"})

        second = await client.post(
            f"{API}/comments/{first.json()['comment_id']}/replies", headers=auth_headers(), json={"message": "2"}
        )

        assert second.status_code == 201, second.text
        assert second.json()["parent_id"] == comment_id
        assert len((await in_sandbox(client, comment_id))["replies"]) == 2

    async def test_a_comment_gone_on_instagram_is_404_and_stored_as_deleted(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        await client.get(f"{API}/{post.id}/comments", headers=auth_headers())
        sandbox = _sandbox(app)
        sandbox.world.delete_comment(comment_id, sandbox.now())  # the fan deleted it in the app

        refused = await client.post(
            f"{API}/comments/{comment_id}/replies", headers=auth_headers(), json={"message": "Hello?"}
        )

        assert refused.status_code == 404 and refused.json()["error"] == "Comment not found"
        assert [c.deleted_at is not None for c in await stored(app, comment_id)] == [True]


class OnPostgres:
    """Tests whose subject is not the database run on PostgreSQL only (the moderation flow and the keys run on
    both backends: the upsert and the key handling are written per dialect)."""

    @pytest.fixture
    def app_and_client(self, pg_app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> tuple[FastAPI, httpx.AsyncClient]:
        return pg_app_and_client


class TestValidation(OnPostgres):
    async def test_messages_and_bodies(self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        for body in (
            {},
            {"message": ""},
            {"message": "   "},
            {"message": "x" * 2201},
            {"message": 5},
            {"message": "hi\u0000"},
        ):
            response = await client.post(f"{API}/{post.id}/comments", headers=auth_headers(), json=body)
            assert response.status_code == 400, (body, response.text)
            assert "message" in response.json()["error"]
        for body in ({}, {"hidden": "maybe"}, {"hidden": True, "extra": 1}):
            response = await client.post(f"{API}/comments/{comment_id}/hide", headers=auth_headers(), json=body)
            assert response.status_code == 400, (body, response.text)
        assert (await in_sandbox(client, comment_id))["hidden"] is False

    async def test_instagram_refuses_hiding_the_accounts_own_comment(
        self, client: httpx.AsyncClient, make: Factory
    ) -> None:
        _, post = await _published(make)
        own = (await client.post(f"{API}/{post.id}/comments", headers=auth_headers(), json={"message": "ours"})).json()

        refused = await client.post(
            f"{API}/comments/{own['comment_id']}/hide", headers=auth_headers(), json={"hidden": True}
        )

        assert refused.status_code == 400
        assert "cannot be hidden" in refused.json()["error"]


class TestOwnership(OnPostgres):
    async def test_another_users_post_and_comments_are_404(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make, "john_doe", sub="alice")
        await make.connected_account("bob_brand", sub="bob")
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        bob = auth_headers("bob")

        assert (await client.get(f"{API}/{post.id}/comments", headers=bob)).json()["error"] == "Post not found"
        made = await client.post(f"{API}/{post.id}/comments", headers=bob, json={"message": "x"})
        assert made.status_code == 404
        # Not stored yet: only Instagram could tell, and it does not show Alice's comment to Bob's account.
        for response in (
            await client.post(f"{API}/comments/{comment_id}/replies", headers=bob, json={"message": "x"}),
            await client.post(f"{API}/comments/{comment_id}/hide", headers=bob, json={"hidden": True}),
            await client.delete(f"{API}/comments/{comment_id}", headers=bob),
        ):
            assert response.status_code == 404 and response.json()["error"] == "Comment not found"
        # Stored for Alice now: still nothing for Bob.
        await client.get(f"{API}/{post.id}/comments", headers=auth_headers())
        assert (await client.delete(f"{API}/comments/{comment_id}", headers=bob)).status_code == 404
        snapshot = await in_sandbox(client, comment_id)
        assert (snapshot["hidden"], snapshot["deleted"], snapshot["replies"]) == (False, False, [])
        assert [c.deleted_at for c in await stored(app, comment_id)] == [None]

    async def test_an_id_that_cannot_be_a_comment_id_is_400(self, client: httpx.AsyncClient, make: Factory) -> None:
        await make.connected_account()
        response = await client.delete(f"{API}/comments/not%20an%20id", headers=auth_headers())
        assert response.status_code == 400 and "comment_id" in response.json()["error"]


class TestFailures(OnPostgres):
    async def test_instagram_down_answers_the_stored_comments_stale(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        await client.post(f"{API}/comments/{comment_id}/replies", headers=auth_headers(), json={"message": "Hi"})
        live = (await client.get(f"{API}/{post.id}/comments", headers=auth_headers())).json()
        await client.post("/sandbox/control/faults", json={"endpoint": "comments", "kind": "server_error", "count": 5})

        stale = await client.get(f"{API}/{post.id}/comments", headers=auth_headers())

        assert stale.status_code == 200, stale.text
        body = stale.json()
        assert body["stale"] is True and body["stale_reason"] and body["next_cursor"] is None
        assert [c["comment_id"] for c in body["comments"]] == [comment_id]
        assert [r["text"] for r in body["comments"][0]["replies"]] == ["Hi"]
        assert body["comments"][0]["replies"][0]["comment_id"] == live["comments"][0]["replies"][0]["comment_id"]

    async def test_throttled_with_nothing_stored_is_429(self, client: httpx.AsyncClient, make: Factory) -> None:
        _, post = await _published(make)
        await client.post("/sandbox/control/faults", json={"endpoint": "comments", "kind": "throttle", "count": 5})

        response = await client.get(f"{API}/{post.id}/comments", headers=auth_headers())

        assert response.status_code == 429
        assert response.json()["error"] == "Rate limit exceeded. Please try again later."
        assert int(response.headers["retry-after"]) >= 1

    async def test_down_with_nothing_stored_is_502(self, client: httpx.AsyncClient, make: Factory) -> None:
        _, post = await _published(make)
        await client.post("/sandbox/control/faults", json={"endpoint": "comments", "kind": "server_error", "count": 5})
        assert (await client.get(f"{API}/{post.id}/comments", headers=auth_headers())).status_code == 502

    async def test_throttled_reply_is_429_and_makes_nothing(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        await client.post("/sandbox/control/faults", json={"endpoint": "reply_create", "kind": "throttle"})

        response = await client.post(
            f"{API}/comments/{comment_id}/replies", headers=auth_headers(), json={"message": "Thanks"}
        )

        assert response.status_code == 429 and "retry-after" in response.headers
        assert (await in_sandbox(client, comment_id))["replies"] == []

    async def test_dead_token_asks_to_reconnect(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        await client.get(f"{API}/{post.id}/comments", headers=auth_headers())
        await client.post("/sandbox/control/revoke", json={"username": "john_doe"})

        response = await client.post(f"{API}/comments/{comment_id}/hide", headers=auth_headers(), json={"hidden": True})

        assert response.status_code == 401
        body = response.json()
        assert (body["code"], body["action"]) == ("instagram_reauth_required", "redirect")
        assert (await in_sandbox(client, comment_id))["hidden"] is False
        listed = await client.get(f"{API}/{post.id}/comments", headers=auth_headers())
        assert listed.status_code == 401

    async def test_an_unknown_comment_of_an_account_to_reconnect_asks_to_reconnect(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        await client.post("/sandbox/control/revoke", json={"username": "john_doe"})
        await client.get(f"{API}/{post.id}/comments", headers=auth_headers())  # marks the account needs_reauth
        comment_id = fan_comment(app, post.media_id)

        response = await client.delete(f"{API}/comments/{comment_id}", headers=auth_headers())

        assert response.status_code == 401 and response.json()["code"] == "instagram_reauth_required"
        assert (await in_sandbox(client, comment_id))["deleted"] is False


class TestIdempotentReplies:
    async def test_a_replay_answers_the_first_answer_and_replies_once(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        headers = {**auth_headers(), "Idempotency-Key": "reply-1"}
        url = f"{API}/comments/{comment_id}/replies"

        first = await client.post(url, headers=headers, json={"message": "Thanks!"})
        again = await client.post(url, headers=headers, json={"message": "Thanks!"})

        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert len((await in_sandbox(client, comment_id))["replies"]) == 1
        other = await client.post(url, headers=headers, json={"message": "Something else"})
        assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"

    async def test_a_lost_answer_is_found_on_instagram_not_made_twice(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        _, post = await _published(make)
        assert post.media_id is not None
        comment_id = fan_comment(app, post.media_id)
        headers = {**auth_headers(), "Idempotency-Key": "reply-lost"}
        url = f"{API}/comments/{comment_id}/replies"
        await client.post("/sandbox/control/faults", json={"endpoint": "reply_create", "kind": "response_lost"})

        lost = await client.post(url, headers=headers, json={"message": "Thanks!"})
        assert lost.status_code == 502, lost.text
        [made] = (await in_sandbox(client, comment_id))["replies"]
        too_soon = await client.post(url, headers=headers, json={"message": "Thanks!"})
        assert too_soon.status_code == 409 and too_soon.json()["code"] == "idempotency_key_in_progress"
        assert int(too_soon.headers["retry-after"]) >= 1
        async with app_context(app).sessionmaker() as session:  # the first request is long over
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == "reply-lost")
                .values(created_at=utcnow() - timedelta(minutes=5))
            )
            await session.commit()

        retried = await client.post(url, headers=headers, json={"message": "Thanks!"})

        assert retried.status_code == 201, retried.text
        assert retried.json()["comment_id"] == made
        assert (await in_sandbox(client, comment_id))["replies"] == [made]

    async def test_a_refused_request_forgets_its_key(self, client: httpx.AsyncClient, make: Factory) -> None:
        _, post = await _published(make)
        headers = {**auth_headers(), "Idempotency-Key": "comment-1"}
        await client.post("/sandbox/control/faults", json={"endpoint": "comment_create", "kind": "throttle"})

        throttled = await client.post(f"{API}/{post.id}/comments", headers=headers, json={"message": "Hi"})
        assert throttled.status_code == 429
        made = await client.post(f"{API}/{post.id}/comments", headers=headers, json={"message": "Hi"})

        assert made.status_code == 201, made.text
        assert "idempotent-replayed" not in made.headers
        comments = (await client.get(f"/sandbox/control/comments?media_id={post.media_id}")).json()["data"]
        assert [c["text"] for c in comments] == ["Hi"]
