"""The sandbox's comment moderation endpoints, over plain HTTP: read, reply, hide, delete, and their errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from app.sandbox.comments import new_comment
from app.sandbox.state import Sandbox

from .helpers import GRAPH, SANDBOX


def _sandbox(outer: FastAPI) -> Sandbox:
    mount = next(r for r in outer.routes if isinstance(r, Mount))
    sandbox = mount.app.state.sandbox  # type: ignore[attr-defined]
    assert isinstance(sandbox, Sandbox)
    return sandbox


async def _account(client: httpx.AsyncClient, username: str = "john_doe") -> tuple[str, str]:
    """(token, newest feed media id) of `username`."""
    minted = await client.post(f"{SANDBOX}/control/users", json={"username": username})
    assert minted.status_code == 201, minted.text
    token = minted.json()["access_token"]
    media = await client.get(f"{GRAPH}/me/media", params={"access_token": token})
    return token, media.json()["data"][0]["id"]


def _fan_comment(outer: FastAPI, media_id: str, text: str = "Love it!") -> str:
    sandbox = _sandbox(outer)
    media = sandbox.world.media[media_id]
    return new_comment(sandbox, media, author="a_fan", author_id="1234567890123456", text=text).id


async def _graph(client: httpx.AsyncClient, method: str, path: str, token: str, **params: str) -> httpx.Response:
    return await client.request(method, f"{GRAPH}/{path}", params={"access_token": token, **params})


async def _control(client: httpx.AsyncClient, comment_id: str) -> dict[str, Any]:
    response = await client.get(f"{SANDBOX}/control/comments/{comment_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _is_missing_object(response: httpx.Response, object_id: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert f"Object with ID '{object_id}' does not exist" in error["message"]


async def test_list_comments_expands_replies(client: httpx.AsyncClient, sandbox_app: FastAPI) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)
    reply = await _graph(client, "POST", f"{comment_id}/replies", token, message="Thank you!")
    assert reply.status_code == 200, reply.text

    fields = "id,text,username,hidden,from,replies{id,text,username,parent_id}"
    listed = await _graph(client, "GET", f"{media_id}/comments", token, fields=fields)

    assert listed.status_code == 200, listed.text
    [node] = listed.json()["data"]
    assert node["id"] == comment_id and node["hidden"] is False
    assert node["from"] == {"id": "1234567890123456", "username": "a_fan"}
    assert node["replies"]["data"] == [
        {"id": reply.json()["id"], "text": "Thank you!", "username": "john_doe", "parent_id": comment_id}
    ]


async def test_get_comment_with_its_media(client: httpx.AsyncClient, sandbox_app: FastAPI) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)

    got = await _graph(client, "GET", comment_id, token, fields="id,text,media{id,media_product_type}")

    assert got.status_code == 200, got.text
    assert got.json() == {"id": comment_id, "text": "Love it!", "media": {"id": media_id, "media_product_type": "FEED"}}


async def test_reply_to_a_reply_joins_the_top_level_comment(client: httpx.AsyncClient, sandbox_app: FastAPI) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)
    first = (await _graph(client, "POST", f"{comment_id}/replies", token, message="one")).json()["id"]

    second = await _graph(client, "POST", f"{first}/replies", token, message="two")

    assert second.status_code == 200, second.text
    replies = await _graph(client, "GET", f"{comment_id}/replies", token, fields="id,text")
    assert [r["text"] for r in replies.json()["data"]] == ["one", "two"]
    assert (await _control(client, second.json()["id"]))["parent_id"] == comment_id


async def test_hide_and_show_again(client: httpx.AsyncClient, sandbox_app: FastAPI) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)

    hidden = await _graph(client, "POST", comment_id, token, hide="true")

    assert hidden.json() == {"success": True}
    assert (await _control(client, comment_id))["hidden"] is True
    refused = await _graph(client, "POST", f"{comment_id}/replies", token, message="hello?")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100
    shown = await _graph(client, "POST", comment_id, token, hide="false")
    assert shown.json() == {"success": True}
    assert (await _control(client, comment_id))["hidden"] is False


async def test_the_owners_own_comment_cannot_be_hidden(client: httpx.AsyncClient) -> None:
    token, media_id = await _account(client)
    own = (await _graph(client, "POST", f"{media_id}/comments", token, message="Our own words")).json()["id"]

    refused = await _graph(client, "POST", own, token, hide="true")

    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100
    assert "cannot be hidden" in refused.json()["error"]["message"]


async def test_delete_takes_the_replies_and_the_id_no_longer_exists(
    client: httpx.AsyncClient, sandbox_app: FastAPI
) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)
    reply_id = (await _graph(client, "POST", f"{comment_id}/replies", token, message="hi")).json()["id"]

    deleted = await _graph(client, "DELETE", comment_id, token)

    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    assert (await _control(client, comment_id))["deleted"] is True
    assert (await _control(client, reply_id))["deleted"] is True
    assert (await _graph(client, "GET", f"{media_id}/comments", token)).json()["data"] == []
    _is_missing_object(await _graph(client, "GET", comment_id, token), comment_id)
    _is_missing_object(await _graph(client, "DELETE", comment_id, token), comment_id)
    _is_missing_object(await _graph(client, "POST", f"{comment_id}/replies", token, message="x"), comment_id)


async def test_another_accounts_comment_does_not_exist_for_the_token(
    client: httpx.AsyncClient, sandbox_app: FastAPI
) -> None:
    _, media_id = await _account(client, "john_doe")
    other_token, _ = await _account(client, "jane_roe")
    comment_id = _fan_comment(sandbox_app, media_id)

    for method, path, params in [
        ("GET", comment_id, {}),
        ("POST", comment_id, {"hide": "true"}),
        ("DELETE", comment_id, {}),
        ("GET", f"{comment_id}/replies", {}),
        ("POST", f"{comment_id}/replies", {"message": "mine now"}),
    ]:
        _is_missing_object(await _graph(client, method, path, other_token, **params), comment_id)
    assert (await _control(client, comment_id))["hidden"] is False


@pytest.mark.parametrize(
    ("params", "words"),
    [({}, "message is required"), ({"message": "   "}, "message is required"), ({"message": "x" * 2201}, "too long")],
)
async def test_reply_message_is_checked(
    client: httpx.AsyncClient, sandbox_app: FastAPI, params: dict[str, str], words: str
) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)

    refused = await _graph(client, "POST", f"{comment_id}/replies", token, **params)

    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100
    assert words in refused.json()["error"]["message"]
    assert (await _control(client, comment_id))["replies"] == []


async def test_hide_needs_its_parameter_and_the_comments_scope(client: httpx.AsyncClient, sandbox_app: FastAPI) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)
    assert (await _graph(client, "POST", comment_id, token)).json()["error"]["code"] == 100
    minted = await client.post(
        f"{SANDBOX}/control/users", json={"username": "john_doe", "scopes": ["instagram_business_basic"]}
    )
    basic = minted.json()["access_token"]

    refused = await _graph(client, "POST", comment_id, basic, hide="true")

    assert refused.status_code == 403 and refused.json()["error"]["code"] == 10


async def test_faults_reach_the_comment_endpoints(client: httpx.AsyncClient, sandbox_app: FastAPI) -> None:
    token, media_id = await _account(client)
    comment_id = _fan_comment(sandbox_app, media_id)
    fault = await client.post(f"{SANDBOX}/control/faults", json={"endpoint": "comment_delete", "kind": "throttle"})
    assert fault.status_code == 201, fault.text

    throttled = await _graph(client, "DELETE", comment_id, token)

    assert throttled.json()["error"]["code"] in {4, 17, 32, 613, 80002}
    assert (await _control(client, comment_id))["deleted"] is False
