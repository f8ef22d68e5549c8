"""Webhook subscriptions: `POST /me/subscribed_apps?subscribed_fields=comments` and `DELETE` of the same."""

from __future__ import annotations

import pytest

from app.instagram import PermissionDenied, UnexpectedResponse

from .support import TOKEN, Harness, V, params_of


class TestSubscribe:
    async def test_subscribes_to_comments_with_the_bearer_token(self, ig: Harness) -> None:
        route = ig.router.post(f"{V}/me/subscribed_apps").respond(200, json={"success": True})
        assert await ig.client.subscribe_webhooks(TOKEN) is True
        request = route.calls.last.request
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert params_of(request) == {"subscribed_fields": "comments"}

    async def test_a_refusal_is_an_instagram_error(self, ig: Harness) -> None:
        error = {"message": "(#10) Application does not have permission", "type": "OAuthException", "code": 10}
        body = {"error": error}
        ig.router.post(f"{V}/me/subscribed_apps").respond(400, json=body)
        with pytest.raises(PermissionDenied):
            await ig.client.subscribe_webhooks(TOKEN)

    async def test_an_answer_without_success_is_unexpected(self, ig: Harness) -> None:
        ig.router.post(f"{V}/me/subscribed_apps").respond(200, json={"data": []})
        with pytest.raises(UnexpectedResponse):
            await ig.client.subscribe_webhooks(TOKEN)

    async def test_fields_must_be_a_list(self, ig: Harness) -> None:
        with pytest.raises(TypeError):
            await ig.client.subscribe_webhooks(TOKEN, "comments")
        with pytest.raises(ValueError, match="at least one"):
            await ig.client.subscribe_webhooks(TOKEN, [])


async def test_unsubscribe_deletes_the_subscription(ig: Harness) -> None:
    route = ig.router.delete(f"{V}/me/subscribed_apps").respond(200, json={"success": True})
    assert await ig.client.unsubscribe_webhooks(TOKEN) is True
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
