"""Inbound Instagram webhooks: the handshake, signatures, storage once, processing for every connected copy of
the account, the events, the sweeper; and end to end from a fan's comment in the sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.accounts.models import Account
from app.comments.models import Comment, Mention
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.events.models import Event
from app.inbound import processing
from app.inbound.models import InboundDelivery, InboundStatus
from app.inbound.verification import signature_of
from app.jobs.queue import InProcessJobQueue
from app.main import app_context
from tests.conftest import auth_headers, make_settings, running_app
from tests.factories import Factory
from tests.support import API, connect_account, control

PATH = f"{API}/webhooks/instagram"
VERIFY_TOKEN = "verify-me-" + "x" * 20
SECRET = "sandbox-app-secret"  # the sandbox's app secret (no INSTAGRAM_APP_SECRET in tests)
META_SECRET = "meta-app-secret-for-tests"


@pytest_asyncio.fixture
async def app_client(database_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app committing for real on PostgreSQL and on SQLite (the embedded default), jobs run in-process."""
    settings = make_settings(database_url, instagram_webhook_verify_token=VERIFY_TOKEN, meta_app_secret=META_SECRET)
    async with running_app(settings) as pair:
        yield pair


@pytest.fixture
def ctx(app_client: tuple[FastAPI, httpx.AsyncClient]) -> AppContext:
    return app_context(app_client[0])


@pytest.fixture
def client(app_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_client[1]


@pytest.fixture
def make(app_client: tuple[FastAPI, httpx.AsyncClient]) -> Factory:
    return Factory(app_context(app_client[0]), app_client[1])


def comment_value(comment_id: str = "18000000000000001", media_id: str = "17900000000000001", **more: Any) -> Any:
    return {
        "from": {"id": "1234567890123456", "username": "ana.souza"},
        "media": {"id": media_id, "media_product_type": "FEED"},
        "id": comment_id,
        "text": "Love this!",
        **more,
    }


def body_of(ig_user_id: str, field: str, value: Any, *, flat: bool = False) -> bytes:
    entry: dict[str, Any] = {"id": ig_user_id, "time": 1764440000}
    if flat:
        entry |= {"field": field, "value": value}
    else:
        entry["changes"] = [{"field": field, "value": value}]
    return json.dumps({"object": "instagram", "entry": [entry]}, separators=(",", ":")).encode()


async def deliver(client: httpx.AsyncClient, body: bytes, *, secret: str | None = SECRET) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signature_of(secret, body)
    return await client.post(PATH, content=body, headers=headers)


async def settle(ctx: AppContext) -> None:
    assert isinstance(ctx.jobs, InProcessJobQueue)
    await ctx.jobs.drain()


async def count(ctx: AppContext, model: Any, *where: Any) -> int:
    async with ctx.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def event_types(ctx: AppContext, user_id: str) -> list[str]:
    """The comment and mention events recorded for the user, oldest first."""
    async with ctx.sessionmaker() as session:
        types = (await session.scalars(select(Event.type).where(Event.user_id == user_id).order_by(Event.id))).all()
    return [t for t in types if t.startswith(("comment.", "mention."))]


async def delivered(client: httpx.AsyncClient, total: int) -> None:
    """Wait until the sandbox's emitter (its background task, or a flush) has delivered `total` webhooks."""
    for _ in range(200):
        await control(client, "webhooks/flush", {})
        log = (await control(client, "webhooks"))["log"]
        if sum(1 for attempt in log if attempt["outcome"] == "delivered") >= total:
            assert all(attempt["status"] == 200 for attempt in log)
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the sandbox did not deliver the webhook")


class TestHandshake:
    async def test_the_right_token_gets_the_challenge(self, client: httpx.AsyncClient) -> None:
        params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY_TOKEN}
        response = await client.get(PATH, params=params)
        assert response.status_code == 200
        assert response.text == "1158201444"
        assert response.headers["content-type"].startswith("text/plain")

    @pytest.mark.parametrize(
        "params",
        [
            {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "wrong"},
            {"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": VERIFY_TOKEN},
            {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
            {},
        ],
    )
    async def test_anything_else_is_refused(self, client: httpx.AsyncClient, params: dict[str, str]) -> None:
        response = await client.get(PATH, params=params)
        assert response.status_code == 403
        assert "error" in response.json()


class TestSignatures:
    async def test_unsigned_forged_and_wrong_secret_store_nothing(
        self, client: httpx.AsyncClient, ctx: AppContext
    ) -> None:
        body = body_of("17841400000000001", "comments", comment_value())
        unsigned = await deliver(client, body, secret=None)
        assert unsigned.status_code == 401
        assert unsigned.json()["code"] == "signature_missing"
        wrong_secret = await deliver(client, body, secret="not-the-secret")
        assert wrong_secret.status_code == 403
        assert wrong_secret.json()["code"] == "signature_mismatch"
        # A real signature of another body: the body was tampered with.
        forged = await client.post(
            PATH, content=body, headers={"X-Hub-Signature-256": signature_of(SECRET, body + b" ")}
        )
        assert forged.status_code == 403
        garbage = await client.post(PATH, content=body, headers={"X-Hub-Signature-256": "sha1=abc"})
        assert garbage.status_code == 401
        assert await count(ctx, InboundDelivery) == 0

    async def test_the_meta_app_secret_is_accepted_too(self, client: httpx.AsyncClient, ctx: AppContext) -> None:
        response = await deliver(client, body_of("1", "comments", comment_value()), secret=META_SECRET)
        assert response.status_code == 200, response.text
        assert await count(ctx, InboundDelivery) == 1

    async def test_a_signed_body_that_is_not_json_is_refused(self, client: httpx.AsyncClient, ctx: AppContext) -> None:
        response = await deliver(client, b"not json")
        assert response.status_code == 400
        assert await count(ctx, InboundDelivery) == 0

    async def test_a_body_over_the_limit_is_refused(self, pg_database_url: str) -> None:
        settings = make_settings(pg_database_url, instagram_webhook_max_body_bytes=1024)
        async with running_app(settings) as (app, client):
            body = body_of("1", "comments", comment_value(text="x" * 2000))
            response = await deliver(client, body)
            assert response.status_code == 413
            assert "error" in response.json()
            assert await count(app_context(app), InboundDelivery) == 0


class TestStorageAndProcessing:
    async def test_a_replay_stores_nothing_new(self, client: httpx.AsyncClient, ctx: AppContext, make: Factory) -> None:
        account = await make.connected_account("brand.one")
        body = body_of(account.ig_user_id, "comments", comment_value())
        first = await deliver(client, body)
        assert first.json() == {"received": True, "duplicate": False}
        await settle(ctx)
        again = await deliver(client, body)
        assert again.status_code == 200
        assert again.json() == {"received": True, "duplicate": True}
        await settle(ctx)
        assert await count(ctx, InboundDelivery) == 1
        assert await count(ctx, Comment) == 1
        assert await event_types(ctx, "alice") == ["comment.created"]

    @pytest.mark.parametrize("flat", [True, False], ids=["flat", "changes"])
    async def test_both_envelopes(self, client: httpx.AsyncClient, ctx: AppContext, make: Factory, flat: bool) -> None:
        account = await make.connected_account("brand.two")
        value = comment_value(parent_id="18000000000000000")
        assert (await deliver(client, body_of(account.ig_user_id, "comments", value, flat=flat))).status_code == 200
        await settle(ctx)
        async with ctx.sessionmaker() as session:
            comment = (await session.scalars(select(Comment))).one()
        assert comment.account_id == account.id
        assert (comment.ig_comment_id, comment.media_id, comment.parent_id) == (
            "18000000000000001",
            "17900000000000001",
            "18000000000000000",
        )
        assert (comment.text, comment.username, comment.from_id) == ("Love this!", "ana.souza", "1234567890123456")
        assert comment.commented_at is not None and comment.commented_at.tzinfo is not None
        assert comment.hidden is False
        async with ctx.sessionmaker() as session:
            delivery = (await session.scalars(select(InboundDelivery))).one()
        assert delivery.status == InboundStatus.PROCESSED
        assert delivery.processed_at is not None

    async def test_a_nul_character_in_a_comment_is_dropped_not_a_failure(
        self, client: httpx.AsyncClient, ctx: AppContext, make: Factory
    ) -> None:
        # PostgreSQL's text cannot hold NUL: kept, it would fail the delivery's processing on every attempt.
        account = await make.connected_account("brand.nul")
        value = comment_value(text="Love\u0000 this!") | {"from": {"id": "1", "username": "a\u0000na"}}
        assert (await deliver(client, body_of(account.ig_user_id, "comments", value))).status_code == 200
        await settle(ctx)
        async with ctx.sessionmaker() as session:
            comment = (await session.scalars(select(Comment))).one()
            delivery = (await session.scalars(select(InboundDelivery))).one()
        assert (comment.text, comment.username) == ("Love this!", "ana")
        assert delivery.status == InboundStatus.PROCESSED

    async def test_every_user_who_connected_the_account_gets_a_copy(
        self, client: httpx.AsyncClient, ctx: AppContext, make: Factory
    ) -> None:
        mine = await make.connected_account("shared.brand", sub="alice")
        theirs = await make.connected_account("shared.brand", sub="bob")
        assert mine.ig_user_id == theirs.ig_user_id and mine.id != theirs.id
        await deliver(client, body_of(mine.ig_user_id, "comments", comment_value()))
        await settle(ctx)
        assert await count(ctx, Comment, Comment.account_id == mine.id) == 1
        assert await count(ctx, Comment, Comment.account_id == theirs.id) == 1
        assert await event_types(ctx, "alice") == ["comment.created"]
        assert await event_types(ctx, "bob") == ["comment.created"]

    async def test_a_disconnected_copy_gets_nothing(
        self, client: httpx.AsyncClient, ctx: AppContext, make: Factory
    ) -> None:
        account = await make.connected_account("gone.brand")
        gone = await client.delete(f"{API}/accounts/{account.id}", headers=auth_headers("alice"))
        assert gone.status_code == 200
        await deliver(client, body_of(account.ig_user_id, "comments", comment_value()))
        await settle(ctx)
        assert await count(ctx, Comment) == 0
        assert await count(ctx, InboundDelivery, InboundDelivery.status == InboundStatus.PROCESSED) == 1

    async def test_unknown_fields_and_messaging_are_kept_and_never_a_500(
        self, client: httpx.AsyncClient, ctx: AppContext, make: Factory
    ) -> None:
        account = await make.connected_account("brand.three")
        payload = {
            "object": "instagram",
            "entry": [
                {"id": account.ig_user_id, "time": 1, "changes": [{"field": "story_insights", "value": {"a": 1}}]},
                {"id": account.ig_user_id, "time": 1, "messaging": [{"sender": {"id": "1"}, "message": {"mid": "m"}}]},
                {"id": account.ig_user_id, "field": "comments", "value": "not an object"},
                {"no": "id"},
                "junk",
            ],
        }
        body = json.dumps(payload).encode()
        response = await deliver(client, body)
        assert response.status_code == 200
        await settle(ctx)
        async with ctx.sessionmaker() as session:
            delivery = (await session.scalars(select(InboundDelivery))).one()
        assert delivery.status == InboundStatus.PROCESSED
        assert delivery.body == body  # kept byte for byte
        assert await count(ctx, Comment) == 0

    async def test_mentions_in_a_comment_and_in_the_mentions_field(
        self, client: httpx.AsyncClient, ctx: AppContext, make: Factory
    ) -> None:
        account = await make.connected_account("brand.four")
        in_comment = comment_value("18000000000000005", "17900000000000009", text="look @Brand.Four, wow")
        await deliver(client, body_of(account.ig_user_id, "comments", in_comment))
        fb_login = {"media_id": "17900000000000010", "comment_id": "18000000000000006"}
        await deliver(client, body_of(account.ig_user_id, "mentions", fb_login))
        in_caption = {"media_id": "17900000000000011"}
        await deliver(client, body_of(account.ig_user_id, "mentions", in_caption, flat=True))
        not_a_mention = comment_value("18000000000000007", text="mail brand.four@example.com or @brand.fourth")
        await deliver(client, body_of(account.ig_user_id, "comments", not_a_mention))
        await settle(ctx)
        async with ctx.sessionmaker() as session:
            found = {(m.media_id, m.comment_id) for m in (await session.scalars(select(Mention))).all()}
        assert found == {
            ("17900000000000009", "18000000000000005"),
            ("17900000000000010", "18000000000000006"),
            ("17900000000000011", ""),
        }
        types = await event_types(ctx, "alice")
        assert types.count("mention.created") == 3
        assert types.count("comment.created") == 2

    async def test_processing_twice_changes_nothing(
        self, client: httpx.AsyncClient, ctx: AppContext, make: Factory
    ) -> None:
        account = await make.connected_account("brand.five")
        await deliver(client, body_of(account.ig_user_id, "comments", comment_value()))
        await settle(ctx)
        async with unit_of_work(ctx.sessionmaker) as session:
            await session.execute(update(InboundDelivery).values(status=InboundStatus.PENDING))
        async with ctx.sessionmaker() as session:
            delivery_id = (await session.scalars(select(InboundDelivery.id))).one()
        assert await processing.process_delivery(ctx, delivery_id) == "0 comments, 0 mentions"
        assert await count(ctx, Comment) == 1
        assert await event_types(ctx, "alice") == ["comment.created"]

    async def test_the_sweeper_processes_what_lost_its_job_and_retries_failures(
        self, ctx: AppContext, make: Factory
    ) -> None:
        # The app's own sweeper (every 10 s) would race this test's call for the same deliveries.
        assert isinstance(ctx.jobs, InProcessJobQueue)
        await ctx.jobs.stop_crons()
        account = await make.connected_account("brand.six")
        old = utcnow() - timedelta(minutes=5)
        async with unit_of_work(ctx.sessionmaker) as session:
            lost = InboundDelivery(
                body_sha256="a" * 64,
                body=body_of(account.ig_user_id, "comments", comment_value("18000000000000011")),
                received_at=old,
                status=InboundStatus.PENDING,
                attempts=0,
            )
            failed = InboundDelivery(
                body_sha256="b" * 64,
                body=body_of(account.ig_user_id, "comments", comment_value("18000000000000012")),
                received_at=old,
                status=InboundStatus.FAILED,
                attempts=1,
                error="OperationalError: the database went away",
            )
            fresh = InboundDelivery(
                body_sha256="c" * 64,
                body=body_of(account.ig_user_id, "comments", comment_value("18000000000000013")),
                received_at=utcnow(),
                status=InboundStatus.PENDING,
                attempts=0,
            )
            session.add_all([lost, failed, fresh])
        # The fresh one still has its job in flight as far as the sweeper knows.
        assert await processing.sweep(ctx) == 2
        await settle(ctx)
        assert await count(ctx, InboundDelivery, InboundDelivery.status == InboundStatus.PROCESSED) == 2
        assert await count(ctx, Comment) == 2


class TestSubscription:
    async def test_connecting_subscribes_and_disconnecting_unsubscribes(self, client: httpx.AsyncClient) -> None:
        account = await connect_account(client, "sub.brand")
        assert account["webhooks"] == "subscribed"
        subscriptions = (await control(client, "webhooks"))["subscriptions"]
        assert [s["subscribed_fields"] for s in subscriptions if s["username"] == "sub.brand"] == [["comments"]]
        gone = await client.delete(f"{API}/accounts/{account['id']}", headers=auth_headers("alice"))
        assert gone.status_code == 200
        subscriptions = (await control(client, "webhooks"))["subscriptions"]
        assert [s for s in subscriptions if s["username"] == "sub.brand"] == []

    async def test_a_second_user_keeps_the_subscription_when_the_first_disconnects(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await connect_account(client, "twice.brand", sub="alice")
        await connect_account(client, "twice.brand", sub="bob")
        assert (await client.delete(f"{API}/accounts/{first['id']}", headers=auth_headers("alice"))).status_code == 200
        subscriptions = (await control(client, "webhooks"))["subscriptions"]
        assert [s["username"] for s in subscriptions] == ["twice.brand"]

    async def test_a_failed_subscription_shows_and_the_token_job_retries_it(
        self, client: httpx.AsyncClient, ctx: AppContext
    ) -> None:
        fault = {"endpoint": "subscribed_apps", "kind": "error", "code": 10, "message": "(#10) Permission denied"}
        await control(client, "faults", fault)
        account = await connect_account(client, "flaky.brand")
        assert account["webhooks"] == "failed"
        listed = (await client.get(f"{API}/accounts/{account['id']}", headers=auth_headers("alice"))).json()
        assert listed["webhooks"] == "failed"
        assert "Permission denied" in listed["webhooks_error"]
        from app.accounts.tasks import refresh_expiring_tokens

        report = await refresh_expiring_tokens(ctx)
        assert (report.webhooks_subscribed, report.webhooks_failed) == (1, 0)
        listed = (await client.get(f"{API}/accounts/{account['id']}", headers=auth_headers("alice"))).json()
        assert (listed["webhooks"], listed["webhooks_error"]) == ("subscribed", None)
        async with ctx.sessionmaker() as session:
            stored = await session.get(Account, account["id"])
        assert stored is not None and stored.webhook_subscription == "subscribed"


class TestEndToEnd:
    async def test_a_fan_comment_reaches_the_service_by_webhook(
        self, client: httpx.AsyncClient, ctx: AppContext, make: Factory
    ) -> None:
        account = await connect_account(client, "e2e.brand")
        async with ctx.sessionmaker() as session:
            row = await session.get(Account, account["id"])
        assert row is not None
        post = await make.published_post(row)
        configured = await client.put(
            "/sandbox/control/webhooks",
            json={"callback_url": ctx.settings.public_base_url + PATH, "verify_token": VERIFY_TOKEN},
        )
        assert configured.status_code == 200, configured.text
        fan = await control(
            client, "fans/comments", {"username": "e2e.brand", "text": "Where was this taken?", "from_username": "mika"}
        )
        assert fan["webhook"]["sent"] is True
        await delivered(client, 1)
        await settle(ctx)
        async with ctx.sessionmaker() as session:
            comment = (await session.scalars(select(Comment))).one()
        assert (comment.ig_comment_id, comment.text, comment.username) == (
            fan["comment"]["id"],
            "Where was this taken?",
            "mika",
        )
        feed = (await client.get(f"{API}/events", headers=auth_headers("alice"))).json()
        created = [e for e in feed["events"] if e["type"] == "comment.created"]
        assert created and created[0]["data"]["comment_id"] == fan["comment"]["id"]
        # The comment is in the sandbox's state too, where GET /{media-id}/comments lists it.
        assert fan["comment"]["media"]["id"] == comment.media_id

        # Issue 13's whole loop: the comment heard by webhook is listed, replied to, hidden and deleted through the
        # API, and each step shows in the sandbox.
        comment_id = fan["comment"]["id"]
        listed = (await client.get(f"{API}/{post.id}/comments", headers=auth_headers("alice"))).json()
        assert [c["comment_id"] for c in listed["comments"]] == [comment_id]
        replied = await client.post(
            f"{API}/comments/{comment_id}/replies", headers=auth_headers("alice"), json={"message": "In Lisbon!"}
        )
        assert replied.status_code == 201, replied.text
        assert (await client.get(f"/sandbox/control/comments/{comment_id}")).json()["replies"] == [
            replied.json()["comment_id"]
        ]
        hidden = await client.post(
            f"{API}/comments/{comment_id}/hide", headers=auth_headers("alice"), json={"hidden": True}
        )
        assert hidden.status_code == 200, hidden.text
        assert (await client.get(f"/sandbox/control/comments/{comment_id}")).json()["hidden"] is True
        deleted = await client.delete(f"{API}/comments/{comment_id}", headers=auth_headers("alice"))
        assert deleted.status_code == 200, deleted.text
        assert (await client.get(f"/sandbox/control/comments/{comment_id}")).json()["deleted"] is True
        # Someone else cannot touch it, whatever id they send.
        assert (await client.delete(f"{API}/comments/{comment_id}", headers=auth_headers("bob"))).status_code == 404

        mention = await control(client, "fans/mentions", {"username": "e2e.brand", "from_username": "leo"})
        assert mention["webhook"]["sent"] is True
        await delivered(client, 2)
        await settle(ctx)
        async with ctx.sessionmaker() as session:
            found = (await session.scalars(select(Mention))).one()
        assert found.comment_id == mention["comment"]["id"]
