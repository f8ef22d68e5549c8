"""Webhook subscriptions: an account enables the app's webhooks (`/me/subscribed_apps`). A mixin of
InstagramClient, which provides the call machinery (calls.py).

Both calls set a state (the list of fields, or none), so repeating them is harmless: they are retried like reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.instagram.calls import GraphCalls, string_list
from app.instagram.models import ResponseShapeError

# With Instagram Login, `mentions` is not a field of its own (Facebook Login only): mentions arrive in `comments`.
WEBHOOK_FIELDS = ("comments",)


def _success(body: object) -> bool:
    if isinstance(body, Mapping) and body.get("success") is True:
        return True
    raise ResponseShapeError("no success in the response")


class SubscriptionCalls(GraphCalls):
    """Subscribe the token's account to the app's webhooks, and unsubscribe it."""

    async def subscribe_webhooks(self, token: str, fields: Sequence[str] = WEBHOOK_FIELDS) -> bool:
        """`POST /me/subscribed_apps?subscribed_fields=…`: the account's fields become exactly these."""
        names = string_list(fields, "fields")
        if not names:
            raise ValueError("fields must name at least one webhook field")
        return await self._call(
            "subscribe_webhooks",
            "POST",
            self._graph_url("me/subscribed_apps"),
            mode="safe",
            bearer=token,
            params={"subscribed_fields": ",".join(names)},
            parse=_success,
        )

    async def unsubscribe_webhooks(self, token: str) -> bool:
        """`DELETE /me/subscribed_apps`: the account stops sending the app webhooks."""
        return await self._call(
            "unsubscribe_webhooks",
            "DELETE",
            self._graph_url("me/subscribed_apps"),
            mode="safe",
            bearer=token,
            parse=_success,
        )
