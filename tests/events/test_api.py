"""The webhook endpoints' and the feed's contract: validation, isolation between users, paging, OpenAPI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.events.types import EVENT_TYPES
from tests.conftest import auth_headers
from tests.events.conftest import feed, register
from tests.events.receiver import Receiver
from tests.support import API, connect_account, control

AppClient = tuple[FastAPI, httpx.AsyncClient]


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({}, "url is required"),
            ({"url": "ftp://example.com/x"}, "url must be an http or https URL"),
            ({"url": "http://10.1.2.3/hook"}, "url points to a private or internal address, which is not allowed"),
            ({"url": "http://[::ffff:169.254.169.254]/"}, "url points to a private or internal address"),
            ({"url": "https://example.com/h", "events": []}, "events must have at least 1 items"),
            ({"url": "https://example.com/h", "events": ["*", "post.failed"]}, 'events must be ["*"] alone'),
            ({"url": "https://example.com/h", "events": ["post.publishd"]}, "events must name known event types, not"),
            ({"url": "https://example.com/h", "events": ["webhook.test"]}, "events must name known event types, not"),
            ({"url": "https://example.com/h", "secret": "mine"}, "secret is not a known field"),
        ],
    )
    async def test_bad_bodies_are_400_naming_the_field(
        self, pg_events_app: AppClient, body: dict[str, Any], message: str
    ) -> None:
        _, client = pg_events_app
        response = await client.post(f"{API}/webhooks", headers=auth_headers(), json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(message), response.json()
        assert "detail" not in response.json()

    async def test_loopback_is_refused_unless_the_setting_allows_it(self, pg_client: httpx.AsyncClient) -> None:
        response = await pg_client.post(
            f"{API}/webhooks", headers=auth_headers(), json={"url": "http://localhost:9/hook"}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_url"

    async def test_patch_checks_what_it_changes(self, pg_events_app: AppClient, receiver: Receiver) -> None:
        _, client = pg_events_app
        endpoint = await register(client, receiver)
        path = f"{API}/webhooks/{endpoint['id']}"
        assert (await client.patch(path, headers=auth_headers(), json={})).status_code == 400
        private = await client.patch(path, headers=auth_headers(), json={"url": "http://192.168.1.1/"})
        assert private.status_code == 400 and private.json()["code"] == "invalid_url"
        assert (await client.patch(path, headers=auth_headers(), json={"enabled": None})).status_code == 400
        changed = await client.patch(
            path, headers=auth_headers(), json={"events": ["post.failed"], "description": "ops", "enabled": False}
        )
        assert changed.status_code == 200
        assert changed.json()["events"] == ["post.failed"] and changed.json()["enabled"] is False
        assert changed.json()["disabled_reason"] == "disabled by the user"
        test = await client.post(f"{path}/test", headers=auth_headers())
        assert test.status_code == 409 and test.json()["code"] == "webhook_disabled"

    async def test_feed_parameters(self, pg_events_app: AppClient) -> None:
        _, client = pg_events_app
        bad_type = await client.get(f"{API}/events", headers=auth_headers(), params={"type": "post.nope"})
        assert bad_type.status_code == 400 and "unknown event types: post.nope" in bad_type.json()["error"]
        bad_after = await client.get(f"{API}/events", headers=auth_headers(), params={"after": "yesterday"})
        assert bad_after.status_code == 400 and bad_after.json()["error"].startswith("query parameter after must")
        unknown = await client.get(f"{API}/events", headers=auth_headers(), params={"after": "evt_00"})
        assert unknown.status_code == 400
        assert (await client.get(f"{API}/events", params={})).status_code == 401


class TestIsolation:
    async def test_another_users_endpoints_and_deliveries_answer_404(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = pg_events_app
        endpoint = await register(client, receiver, events=["account.connected"])
        await connect_account(client, "mine_only")
        await receiver.wait_for(lambda r: len(r) == 1)
        deliveries = (await client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=auth_headers())).json()
        delivery_id = deliveries["deliveries"][0]["id"]
        mallory = auth_headers("mallory")
        path = f"{API}/webhooks/{endpoint['id']}"
        for method, url in [
            ("GET", path),
            ("PATCH", path),
            ("DELETE", path),
            ("POST", f"{path}/rotate-secret"),
            ("POST", f"{path}/test"),
            ("GET", f"{path}/deliveries"),
            ("POST", f"{path}/deliveries/{delivery_id}/redeliver"),
        ]:
            response = await client.request(method, url, headers=mallory, json={"enabled": True})
            assert response.status_code == 404, (method, url, response.text)
            assert response.json()["error"] == "Webhook endpoint not found"
        assert (await client.get(f"{API}/webhooks", headers=mallory)).json() == []
        # A delivery id of another endpoint, under the caller's own endpoint, is 404 too.
        other = await register(client, Receiver(port=receiver.port), sub="mallory")
        crossed = await client.post(f"{API}/webhooks/{other['id']}/deliveries/{delivery_id}/redeliver", headers=mallory)
        assert crossed.status_code == 404 and crossed.json()["error"] == "Delivery not found"

    async def test_events_never_cross_users_sharing_an_instagram_account(
        self, pg_events_app: AppClient, receiver: Receiver
    ) -> None:
        _, client = pg_events_app
        bob_receiver = Receiver()
        await bob_receiver.start()
        try:
            await register(client, receiver, sub="alice")
            await register(client, bob_receiver, sub="bob")
            alice_account = await connect_account(client, "shared_brand", sub="alice")
            bob_account = await connect_account(client, "shared_brand", sub="bob")
            assert alice_account["platform_user_id"] == bob_account["platform_user_id"]
            published = await client.post(
                f"{API}/posts",
                headers=auth_headers("alice"),
                json={"account_id": alice_account["id"], "image_url": "https://example.com/a.jpg"},
            )
            assert published.status_code == 201
            await receiver.wait_for(lambda r: len(r) == 2)
            await bob_receiver.wait_for(lambda r: len(r) == 1)
            assert [r.type for r in bob_receiver.receipts] == ["account.connected"]
            assert bob_receiver.receipts[0].payload["data"]["account_id"] == bob_account["id"]
            assert [e["type"] for e in (await feed(client, "bob"))["events"]] == ["account.connected"]
            assert [e["type"] for e in (await feed(client, "alice"))["events"]] == [
                "account.connected",
                "post.published",
            ]
        finally:
            await bob_receiver.stop()


class TestFeed:
    async def test_cursor_paging_type_filter_and_event_id_cursor(self, pg_events_app: AppClient) -> None:
        _, client = pg_events_app
        accounts = [await connect_account(client, f"feed_{i}") for i in range(3)]
        await client.delete(f"{API}/accounts/{accounts[0]['id']}", headers=auth_headers())
        first = await feed(client, limit=2)
        assert [e["data"]["username"] for e in first["events"]] == ["feed_0", "feed_1"]
        assert first["has_more"] is True
        second = await feed(client, limit=2, after=first["next_cursor"])
        assert [e["type"] for e in second["events"]] == ["account.connected", "account.disconnected"]
        assert second["has_more"] is False
        empty = await feed(client, after=second["next_cursor"])
        assert empty["events"] == [] and empty["next_cursor"] == second["next_cursor"]
        by_id = await feed(client, after=first["events"][0]["id"])
        assert [e["id"] for e in by_id["events"]] == [e["id"] for e in first["events"][1:] + second["events"]]
        only = await feed(client, type="account.disconnected")
        assert [e["data"]["username"] for e in only["events"]] == ["feed_0"]

    async def test_an_accounts_status_changes_are_one_event_each(self, pg_events_app: AppClient) -> None:
        """Every status change goes through accounts.service.change_status, which writes its event with it:
        connected, connected again, needs re-authentication, disconnected, and nothing for a repeat."""
        _, client = pg_events_app
        account = await connect_account(client, "many_lives")
        assert (await client.delete(f"{API}/accounts/{account['id']}", headers=auth_headers())).status_code == 200
        assert (await client.delete(f"{API}/accounts/{account['id']}", headers=auth_headers())).status_code == 200
        again = await connect_account(client, "many_lives")
        assert again["id"] == account["id"]
        await control(client, "revoke", {"username": "many_lives"})
        info = await client.get(f"{API}/account/info", params={"account_id": account["id"]}, headers=auth_headers())
        assert info.status_code == 401
        assert (await client.delete(f"{API}/accounts/{account['id']}", headers=auth_headers())).status_code == 200
        events = [(e["type"], e["data"]) for e in (await feed(client))["events"]]
        assert [name for name, _ in events] == [
            "account.connected",
            "account.disconnected",
            "account.connected",
            "account.needs_reauth",
            "account.disconnected",
        ]
        assert [data.get("reconnected") for name, data in events if name == "account.connected"] == [False, True]
        assert events[3][1]["cause"] == "api_call"
        assert {data["account_id"] for _, data in events} == {account["id"]}


class TestOpenAPI:
    async def test_every_event_payload_is_a_webhook_and_every_route_documents_its_answers(
        self, pg_client: httpx.AsyncClient
    ) -> None:
        document = (await pg_client.get("/openapi.json")).json()
        assert document["openapi"].startswith("3.1")
        assert set(document["webhooks"]) == set(EVENT_TYPES)
        published = document["webhooks"]["post.published"]["post"]
        assert {p["name"] for p in published["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        schema = document["components"]["schemas"]["PostPublished"]
        assert {"db_id", "account", "kind", "media_id", "permalink", "published_at"} <= set(schema["properties"])
        paths = document["paths"]
        assert set(paths[f"{API}/webhooks"]["post"]["responses"]) >= {"201", "400", "401", "409"}
        assert set(
            paths[f"{API}/webhooks/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver"]["post"]["responses"]
        ) >= {
            "202",
            "404",
            "409",
        }
        assert set(paths[f"{API}/events"]["get"]["responses"]) >= {"200", "400", "401"}
