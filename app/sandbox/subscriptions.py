"""`/{ig-user-id}/subscribed_apps` (and `/me/subscribed_apps`): an account enables webhooks for the app.

POST `subscribed_fields=comments,messages` → `{"success": true}` (the list replaces the previous one);
GET → `{"data": [{"subscribed_fields": [...]}]}` (`{"data": []}` when not subscribed); DELETE → `{"success": true}`.
"""

from __future__ import annotations

from typing import Any

from app.sandbox.calls import GraphContext
from app.sandbox.errors import GraphError, missing_parameter
from app.sandbox.params import parse_list
from app.sandbox.reads import own_user
from app.sandbox.webhooks import FB_LOGIN_ONLY_FIELDS, IG_LOGIN_FIELDS


def _unknown_field(index: int, name: str) -> GraphError:
    message = f'(#100) Param subscribed_fields[{index}] must be one of {{{", ".join(IG_LOGIN_FIELDS)}}} - got "{name}"'
    user_msg = None
    if name in FB_LOGIN_ONLY_FIELDS:
        user_msg = (
            f"{name} is a Facebook Login (graph.facebook.com) webhook field; with Instagram Login, mentions "
            "arrive inside comments."
        )
    return GraphError(message, code=100, user_title="Invalid Parameter", user_msg=user_msg)


def parse_subscribed_fields(raw: str | None) -> list[str]:
    """The requested fields, in order, duplicates dropped; code 100 for a missing or unknown one."""
    fields = parse_list(raw)
    if not fields:
        raise missing_parameter("subscribed_fields")
    for index, name in enumerate(fields):
        if name not in IG_LOGIN_FIELDS:
            raise _unknown_field(index, name)
    return list(dict.fromkeys(fields))


async def subscribe(ctx: GraphContext) -> dict[str, Any]:
    """`POST /me/subscribed_apps?subscribed_fields=...`: the account's fields become exactly these."""
    user = own_user(ctx)
    fields = parse_subscribed_fields(ctx.params.get("subscribed_fields"))
    ctx.sandbox.world.subscriptions[user.ig_id] = fields
    return {"success": True}


async def subscribed(ctx: GraphContext) -> dict[str, Any]:
    """`GET /me/subscribed_apps`: the app's subscription for this account, if any."""
    user = own_user(ctx)
    fields = ctx.sandbox.world.subscriptions.get(user.ig_id)
    return {"data": [{"subscribed_fields": list(fields)}] if fields else []}


async def unsubscribe(ctx: GraphContext) -> dict[str, Any]:
    """`DELETE /me/subscribed_apps`: the account stops sending the app webhooks."""
    user = own_user(ctx)
    ctx.sandbox.world.subscriptions.pop(user.ig_id, None)
    return {"success": True}
