"""Helpers the end-to-end tests share: the browser-style OAuth flow and the sandbox's controls."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import auth_headers

API = "/api/sns/instagram"


async def connect_account(
    client: httpx.AsyncClient, username: str = "john_doe", *, sub: str = "alice"
) -> dict[str, Any]:
    """Connect `username` as user `sub` the way a browser does: authorize URL, consent form, callback."""
    response = await client.get(f"{API}/oauth/authorize", headers=auth_headers(sub))
    assert response.status_code == 200, response.text
    auth_url = response.json()["auth_url"]
    consent = await client.get(auth_url)
    assert consent.status_code == 200
    assert "<form" in consent.text
    approved = await client.post(auth_url, data={"username": username})
    assert approved.status_code == 302, approved.text
    callback = await client.get(approved.headers["location"])
    assert callback.status_code == 200, callback.text
    account: dict[str, Any] = callback.json()["account"]
    return account


async def control(client: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST to one of the sandbox's control endpoints (or GET when body is None)."""
    url = f"/sandbox/control/{path}"
    response = await (client.get(url) if body is None else client.post(url, json=body))
    assert response.status_code < 300, response.text
    return response.json()


async def published(client: httpx.AsyncClient, username: str | None = None) -> list[dict[str, Any]]:
    """Everything the sandbox says was published (optionally for one user)."""
    params = {"username": username} if username else {}
    response = await client.get("/sandbox/control/published", params=params)
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def until_published(client: httpx.AsyncClient, response: httpx.Response, sub: str = "alice") -> dict[str, Any]:
    """A post answered 201, or 202 while Instagram processed it: its state once published (fails if it fails)."""
    import asyncio

    assert response.status_code in (201, 202), response.text
    for _ in range(300):
        post: dict[str, Any] = (
            await client.get(f"{API}/posts/{response.json()['db_id']}", headers=auth_headers(sub))
        ).json()
        if post["status"] == "published":
            return post
        assert post["status"] != "failed", post
        await asyncio.sleep(0.05)
    raise AssertionError("the post was not published")


def future(**delta: float) -> str:
    """An ISO 8601 time this far in the future, with an offset (as scheduled_at wants)."""
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(**delta)).isoformat()
