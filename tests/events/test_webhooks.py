"""Webhooks end to end inside one process (the embedded default: jobs in-process, the sandbox mounted):
a real receiver on loopback verifies every signature with `standardwebhooks`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.main import app_context
from app.observability.logging import JsonFormatter, redact
from tests.conftest import auth_headers
from tests.events.conftest import feed, register
from tests.events.receiver import Receiver
from tests.support import API, connect_account, control, future

AppClient = tuple[FastAPI, httpx.AsyncClient]


async def _post(client: httpx.AsyncClient, account: dict[str, Any], sub: str = "alice", **extra: Any) -> httpx.Response:
    return await client.post(
        f"{API}/posts",
        headers=auth_headers(sub),
        json={"account_id": account["id"], "image_url": "https://example.com/product.jpg", **extra},
    )


class TestDelivery:
    async def test_a_published_post_reaches_the_receiver_signed_and_in_the_feed(
        self, events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = events_app
        await register(client, receiver)
        account = await connect_account(client, "webhook_owner")
        response = await _post(client, account, caption="hello")
        assert response.status_code == 201, response.text
        db_id = response.json()["db_id"]
        await receiver.wait_for(lambda r: any(x.type == "post.published" for x in r))
        (published,) = receiver.of_type("post.published")
        assert published.verified_by == receiver.secrets
        payload = published.payload
        assert payload["id"] == published.id and payload["id"].startswith("evt_")
        assert set(payload) == {"id", "type", "created_at", "data"}
        data = payload["data"]
        assert data["db_id"] == db_id and data["account_id"] == account["id"]
        assert data["account"] == "webhook_owner" and data["kind"] == "feed"
        assert data["media_id"] == response.json()["post_id"]
        assert data["permalink"] and data["permalink"] == response.json()["permalink"]
        assert data["published_at"]
        assert "token" not in published.body.lower()
        # The feed has the same events, with the same ids, oldest first.
        page = await feed(client)
        assert [e["type"] for e in page["events"]] == ["account.connected", "post.published"]
        assert page["events"][1] == payload
        connected = receiver.of_type("account.connected")[0].payload
        assert connected["data"]["username"] == "webhook_owner" and connected["data"]["reconnected"] is False
        # Deleting the endpoint forgets its deliveries; the events stay in the feed.
        endpoint_id = (await client.get(f"{API}/webhooks", headers=auth_headers())).json()[0]["id"]
        deleted = await client.delete(f"{API}/webhooks/{endpoint_id}", headers=auth_headers())
        assert deleted.status_code == 200 and deleted.json() == {"message": "Webhook endpoint deleted successfully"}
        assert (await client.get(f"{API}/webhooks/{endpoint_id}", headers=auth_headers())).status_code == 404
        assert len((await feed(client))["events"]) == 2

    async def test_cancel_and_disconnect_emit_their_events_in_order(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = pg_events_app
        account = await connect_account(client, "leaving")
        await register(client, receiver, events=["post.cancelled", "account.disconnected"])
        first = await _post(client, account, scheduled_at=future(hours=2))
        second = await _post(client, account, scheduled_at=future(hours=3))
        assert first.status_code == second.status_code == 202
        cancelled = await client.delete(f"{API}/posts/{first.json()['db_id']}", headers=auth_headers())
        assert cancelled.status_code == 200
        gone = await client.delete(f"{API}/accounts/{account['id']}", headers=auth_headers())
        assert gone.status_code == 200
        await receiver.wait_for(lambda r: len(r) == 3)
        # Deliveries of different posts and of the account don't wait for each other: only their set is fixed.
        assert sorted((r.type, r.payload["data"].get("db_id") or 0) for r in receiver.receipts) == [
            ("account.disconnected", 0),
            ("post.cancelled", first.json()["db_id"]),
            ("post.cancelled", second.json()["db_id"]),
        ]
        by_post = {r.payload["data"].get("db_id"): r.payload["data"] for r in receiver.receipts}
        assert by_post[first.json()["db_id"]]["reason"] == "cancelled by the user"
        assert receiver.of_type("account.disconnected")[0].payload["data"]["cancelled_posts"] == 1
        # The feed keeps commit order. Subscribed to those two types only: account.connected was not sent,
        # yet it is in the feed.
        types = [e["type"] for e in (await feed(client))["events"]]
        assert types[:2] == ["account.connected", "post.cancelled"] and sorted(types[2:]) == [
            "account.disconnected",
            "post.cancelled",
        ]

    async def test_failed_media_is_post_failed_once(self, pg_events_app: AppClient, receiver: Receiver) -> None:
        _, client = pg_events_app
        account = await connect_account(client, "bad_media")
        await register(client, receiver)
        await control(client, "faults", {"endpoint": "media_create", "kind": "container_error", "subcode": 2207026})
        response = await _post(client, account)
        assert response.status_code == 400, response.text
        await receiver.wait_for(lambda r: any(x.type == "post.failed" for x in r))
        await asyncio.sleep(0.3)
        (failed,) = receiver.of_type("post.failed")
        assert failed.payload["data"]["code"] == "media_processing_failed"
        assert failed.payload["data"]["retryable"] is False
        assert "2207026" in failed.payload["data"]["message"]

    async def test_insights_refresh_is_one_event_per_account(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        from app.insights.refresh import refresh_recent

        app, client = pg_events_app
        account = await connect_account(client, "insightful")
        for _ in range(2):
            assert (await _post(client, account)).status_code == 201
        await register(client, receiver, events=["insights.refreshed"])
        await refresh_recent(app_context(app))
        await receiver.wait_for(lambda r: len(r) == 1)
        data = receiver.receipts[0].payload["data"]
        assert (data["account_id"], data["post_count"], data["failed_count"]) == (account["id"], 2, 0)

    async def test_needs_reauth_after_a_refused_call(self, pg_events_app: AppClient, receiver: Receiver) -> None:
        _, client = pg_events_app
        account = await connect_account(client, "revoked")
        await register(client, receiver, events=["account.needs_reauth"])
        await control(client, "revoke", {"username": "revoked"})
        response = await _post(client, account)
        assert response.status_code == 401
        await receiver.wait_for(lambda r: len(r) == 1)
        data = receiver.receipts[0].payload["data"]
        assert data["cause"] == "api_call" and data["auth_url"] == "/api/sns/instagram/oauth/authorize"
        assert data["account_id"] == account["id"]

    async def test_needs_reauth_found_by_the_token_refresh(self, pg_events_app: AppClient, receiver: Receiver) -> None:
        from app.accounts.tasks import refresh_expiring_tokens

        app, client = pg_events_app
        account = await connect_account(client, "refresh_dies")
        await register(client, receiver, events=["account.needs_reauth"])
        await control(client, "revoke", {"username": "refresh_dies"})
        ctx = app_context(app)
        async with ctx.engine.begin() as connection:
            # Old enough to be refreshed, and expiring soon.
            await connection.execute(
                text(
                    "UPDATE accounts SET token_issued_at = now() - interval '3 days', "
                    "token_expires_at = now() + interval '2 days' WHERE id = :id"
                ),
                {"id": account["id"]},
            )
        await refresh_expiring_tokens(ctx)
        await receiver.wait_for(lambda r: len(r) == 1)
        assert receiver.receipts[0].payload["data"]["cause"] == "token_refresh"


class TestRetriesAndOrder:
    async def test_a_failing_receiver_gets_it_on_a_retry_with_the_same_id(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = pg_events_app
        endpoint = await register(client, receiver, events=["account.connected"])
        receiver.status = 503
        await connect_account(client, "retry_me")
        await receiver.wait_for(lambda r: len(r) >= 2)
        listing = (await client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=auth_headers())).json()
        (delivery,) = listing["deliveries"]
        assert delivery["status"] == "pending" and delivery["last_status_code"] == 503
        assert delivery["last_error"] == "HTTP 503" and delivery["next_attempt_at"]
        receiver.status = 200
        await receiver.wait_for(lambda r: len(r) >= 3 and r[-1].headers is not None)

        async def succeeded() -> bool:
            rows = (await client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=auth_headers())).json()
            return bool(rows["deliveries"][0]["status"] == "succeeded")

        await _until(succeeded)
        assert len({r.id for r in receiver.receipts}) == 1, "every attempt carries the same webhook-id"
        assert all(r.verified_by for r in receiver.receipts)

    async def test_one_posts_retry_does_not_hold_up_another_and_a_posts_events_stay_in_order(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = pg_events_app
        account = await connect_account(client, "in_order")
        await register(client, receiver, events=["post.failed", "post.published"])
        await control(client, "faults", {"endpoint": "media_create", "kind": "error", "code": 2, "count": 2})
        failing = await _post(client, account)
        assert failing.status_code == 502, failing.text
        slow_id = failing.json()["db_id"]
        # The receiver refuses everything about that post for now.
        receiver.reject = lambda payload: payload["data"]["db_id"] == slow_id
        retried = await client.post(f"{API}/posts/{slow_id}/retry", headers=auth_headers())
        assert retried.status_code == 201, retried.text
        other = await _post(client, account)
        assert other.status_code == 201
        other_id = other.json()["db_id"]
        await receiver.wait_for(lambda r: any(x.payload["data"]["db_id"] == other_id for x in r))
        about_slow = [r.type for r in receiver.receipts if r.payload["data"]["db_id"] == slow_id]
        assert "post.published" not in about_slow, "a post's later event waits for its earlier one"
        receiver.reject = None
        await receiver.wait_for(
            lambda r: any(x.type == "post.published" and x.payload["data"]["db_id"] == slow_id for x in r)
        )
        order = [r.type for r in receiver.unique().values() if r.payload["data"]["db_id"] == slow_id]
        assert order == ["post.failed", "post.published"]

    async def test_an_endpoint_failing_too_long_is_disabled_and_resumes_when_enabled(
        self, pg_database_url: str, receiver: Receiver
    ) -> None:
        from tests.conftest import make_settings, running_app
        from tests.events.conftest import FAST

        settings = make_settings(pg_database_url, **{**FAST, "webhook_disable_after_seconds": 0.5})
        async with running_app(settings) as (_, client):
            endpoint = await register(client, receiver, events=["account.connected"])
            await receiver.stop()
            await connect_account(client, "dead_end")

            async def disabled() -> bool:
                state = (await client.get(f"{API}/webhooks/{endpoint['id']}", headers=auth_headers())).json()
                return state["enabled"] is False

            await _until(disabled, timeout=15)
            state = (await client.get(f"{API}/webhooks/{endpoint['id']}", headers=auth_headers())).json()
            assert state["disabled_reason"].startswith("No successful delivery for 0.5 seconds")
            assert state["failing_since"]
            deliveries = (
                await client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=auth_headers())
            ).json()
            assert deliveries["deliveries"][0]["status"] == "pending"
            await receiver.start()
            enabled = await client.patch(
                f"{API}/webhooks/{endpoint['id']}", headers=auth_headers(), json={"enabled": True}
            )
            assert enabled.status_code == 200 and enabled.json()["disabled_reason"] is None
            await receiver.wait_for(lambda r: len(r) == 1)
            assert receiver.receipts[0].type == "account.connected"


class TestSecrets:
    async def test_rotation_signs_with_both_secrets_during_the_overlap(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = pg_events_app
        endpoint = await register(client, receiver, events=["account.connected"])
        old = endpoint["secret"]
        rotated = await client.post(f"{API}/webhooks/{endpoint['id']}/rotate-secret", headers=auth_headers())
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != old
        receiver.secrets.append(new)
        await connect_account(client, "rotating")
        await receiver.wait_for(lambda r: len(r) == 1)
        (receipt,) = receiver.receipts
        assert receipt.verified_by == [old, new]
        assert len(receipt.headers["webhook-signature"].split(" ")) == 2
        shown = (await client.get(f"{API}/webhooks/{endpoint['id']}", headers=auth_headers())).json()
        assert shown["previous_secret_expires_at"] and "secret" not in shown

    async def test_secrets_are_encrypted_at_rest_and_never_listed(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        app, client = pg_events_app
        endpoint = await register(client, receiver)
        async with app_context(app).engine.connect() as connection:
            rows = (await connection.execute(text("SELECT * FROM webhook_endpoints"))).all()
        raw = repr(rows)
        assert endpoint["secret"] not in raw and endpoint["secret"][6:] not in raw
        listed = (await client.get(f"{API}/webhooks", headers=auth_headers())).json()
        assert "secret" not in listed[0]

    async def test_no_secret_in_any_log_line(
        self, pg_events_app: AppClient, receiver: Receiver, caplog: pytest.LogCaptureFixture
    ) -> None:
        _, client = pg_events_app
        caplog.set_level(logging.DEBUG)
        endpoint = await register(client, receiver)
        rotated = (await client.post(f"{API}/webhooks/{endpoint['id']}/rotate-secret", headers=auth_headers())).json()
        await connect_account(client, "quiet_logs")
        await receiver.wait_for(lambda r: len(r) == 1)
        lines = [JsonFormatter().format(record) for record in caplog.records]
        assert any("webhook delivery attempt" in line and receiver.receipts[0].id in line for line in lines)
        for secret in (endpoint["secret"], rotated["secret"]):
            assert not any(secret[6:20] in line for line in lines)
        assert redact(f"key {endpoint['secret']}") == "key whsec_[redacted]"


class TestTestAndRedeliver:
    async def test_the_test_event_answers_its_outcome_and_stays_out_of_the_feed(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = pg_events_app
        endpoint = await register(client, receiver, events=["post.published"])
        response = await client.post(f"{API}/webhooks/{endpoint['id']}/test", headers=auth_headers())
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "succeeded" and response.json()["last_status_code"] == 200
        (receipt,) = receiver.receipts
        assert receipt.type == "webhook.test" and receipt.verified_by
        receiver.status = 500
        failed = await client.post(f"{API}/webhooks/{endpoint['id']}/test", headers=auth_headers())
        assert failed.json()["status"] == "failed" and failed.json()["last_error"] == "HTTP 500"
        assert (await feed(client))["events"] == []

    async def test_redeliver_sends_the_same_event_again(self, pg_events_app: AppClient, receiver: Receiver) -> None:
        _, client = pg_events_app
        endpoint = await register(client, receiver)
        await connect_account(client, "again")
        await receiver.wait_for(lambda r: len(r) == 1)

        async def done() -> list[dict[str, Any]]:
            page = (await client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=auth_headers())).json()
            return list(page["deliveries"])

        await _until(lambda: _all_succeeded(done))
        (delivery,) = await done()
        again = await client.post(
            f"{API}/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver", headers=auth_headers()
        )
        assert again.status_code == 202, again.text
        assert again.json()["id"] != delivery["id"] and again.json()["event_id"] == delivery["event_id"]
        await receiver.wait_for(lambda r: len(r) == 2)
        assert receiver.receipts[0].id == receiver.receipts[1].id == delivery["event_id"]
        assert receiver.receipts[0].body == receiver.receipts[1].body
        filtered = await client.get(
            f"{API}/webhooks/{endpoint['id']}/deliveries",
            headers=auth_headers(),
            params={"status": "pending", "limit": 1},
        )
        assert filtered.status_code == 200


async def _all_succeeded(read: Any) -> bool:
    rows = await read()
    return bool(rows) and all(r["status"] == "succeeded" for r in rows)


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
