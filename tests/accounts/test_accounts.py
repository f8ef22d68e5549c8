"""Seed §6–9: list, read and disconnect accounts; Instagram's failures mapped; never a token in an answer."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.accounts import service
from app.accounts.models import Account
from app.main import app_context
from app.publishing.models import Post, PostKind
from tests.conftest import auth_headers
from tests.factories import Factory
from tests.support import API, connect_account, future

TOKEN_PATTERN = re.compile(r"IGAA[A-Za-z0-9._\-]{10,}")


async def _token_of(app: FastAPI, account_id: int) -> str | None:
    ctx = app_context(app)
    async with ctx.sessionmaker() as session:
        account = await session.scalar(select(Account).where(Account.id == account_id))
    assert account is not None
    return ctx.cipher.decrypt(account.access_token_encrypted) if account.access_token_encrypted else None


class TestListAndGet:
    async def test_seed_8_list_shape_without_tokens(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        first = await make.connected_account("john_doe")
        second = await make.connected_account("marketing_team")
        response = await client.get(f"{API}/accounts", headers=auth_headers())
        assert response.status_code == 200
        accounts = response.json()
        assert [a["account_name"] for a in accounts] == ["john_doe", "marketing_team"]
        for account in accounts:
            assert account["platform"] == "instagram"
            assert isinstance(account["followers_count"], int)
            assert isinstance(account["following_count"], int)
        for account_id in (first.id, second.id):
            token = await _token_of(app, account_id)
            assert token is not None and token not in response.text
        assert not TOKEN_PATTERN.search(response.text)

    async def test_get_one(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account()
        response = await client.get(f"{API}/accounts/{account.id}", headers=auth_headers())
        assert response.status_code == 200
        assert response.json()["account_name"] == "john_doe"
        assert (await client.get(f"{API}/accounts/999", headers=auth_headers())).status_code == 404


class TestDisconnect:
    async def test_seed_9(self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory) -> None:
        app, client = app_and_client
        account = await make.connected_account()
        published = await make.published_post(account)
        scheduled = await client.post(
            f"{API}/posts",
            headers=auth_headers(),
            json={
                "account_id": account.id,
                "image_url": "https://example.com/b.jpg",
                "scheduled_at": future(days=30),
            },
        )
        assert scheduled.status_code == 202
        response = await client.delete(f"{API}/accounts/{account.id}", headers=auth_headers())
        assert response.status_code == 200
        assert response.json() == {"message": "Account disconnected successfully"}
        assert await _token_of(app, account.id) is None
        listed = (await client.get(f"{API}/accounts", headers=auth_headers())).json()
        assert listed[0]["is_active"] is False
        async with app_context(app).sessionmaker() as session:
            posts = {p.id: p for p in (await session.scalars(select(Post))).all()}
        assert posts[published.id].status == "published"
        assert posts[scheduled.json()["db_id"]].status == "cancelled"
        # Reading it live now needs a new connection.
        info = await client.get(f"{API}/account/info", params={"account_id": account.id}, headers=auth_headers())
        assert info.status_code == 409
        assert info.json()["code"] == "account_disconnected"


class TestAccountInfo:
    async def test_seed_6_shape_and_mapping(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account("john_doe")
        response = await client.get(
            f"{API}/account/info?account_id={account.id}",
            headers={**auth_headers(), "Content-Type": "application/json"},
        )
        assert response.status_code == 200
        info = response.json()
        assert set(info) >= {
            "id",
            "username",
            "name",
            "bio",
            "followers_count",
            "following_count",
            "profile_picture_url",
            "website",
            "account_type",
        }
        assert info["id"] == account.ig_user_id
        assert info["username"] == "john_doe"
        assert info["name"] == "John Doe"
        assert info["account_type"] == "business"
        assert info["bio"] and info["following_count"] == account.following_count

    async def test_the_cached_profile_is_saved_when_it_changed_and_only_then(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient], make: Factory
    ) -> None:
        app, client = app_and_client
        ctx = app_context(app)
        account = await make.connected_account("john_doe")
        async with ctx.sessionmaker() as session:
            row = await session.get(Account, account.id)
            assert row is not None
            row.followers_count = -1
            await session.commit()
        info = await client.get(f"{API}/account/info", params={"account_id": account.id}, headers=auth_headers())
        assert info.status_code == 200
        async with ctx.sessionmaker() as session:
            row = await session.get(Account, account.id)
            assert row is not None and row.access_token_encrypted is not None
            assert row.followers_count == info.json()["followers_count"] >= 0
            # The same profile again leaves the row clean: nothing for the request to write after its call.
            profile = await ctx.instagram.get_user(ctx.cipher.decrypt(row.access_token_encrypted), row.ig_user_id)
            assert service.apply_profile(row, profile, ctx.settings) == {}
            assert not session.dirty


class TestRecentMedia:
    async def test_seed_7_pages_to_the_last(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account()
        for _ in range(3):
            await make.published_post(account)
        first = await client.get(f"{API}/media", params={"account_id": account.id, "limit": 25}, headers=auth_headers())
        assert first.status_code == 200
        everything = first.json()["posts"]
        assert first.json()["next_cursor"] is None
        assert len(everything) >= 6
        for post in everything:
            assert set(post) >= {"id", "caption", "media_type", "media_url", "timestamp", "likes", "comments"}
            assert post["timestamp"].endswith("Z")
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"account_id": account.id, "limit": 2}
            if cursor:
                params["after"] = cursor
            page = await client.get(f"{API}/media", params=params, headers=auth_headers())
            assert page.status_code == 200
            seen += [p["id"] for p in page.json()["posts"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == [p["id"] for p in everything]

    async def test_reels_are_reported_as_reels(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account()
        reel = await make.published_post(account, PostKind.REEL)
        media = (await client.get(f"{API}/media", params={"account_id": account.id}, headers=auth_headers())).json()
        mine = next(p for p in media["posts"] if p["id"] == reel.media_id)
        assert mine["media_type"] == "REELS"


class TestInstagramFailures:
    async def test_dead_token_asks_to_reconnect(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account("john_doe")
        await client.post("/sandbox/control/revoke", json={"username": "john_doe"})
        response = await client.get(f"{API}/account/info", params={"account_id": account.id}, headers=auth_headers())
        assert response.status_code == 401
        body = response.json()
        assert body["action"] == "redirect"
        assert body["auth_url"] == "/api/sns/instagram/oauth/authorize"
        assert body["code"] == "instagram_reauth_required"
        assert "www-authenticate" not in response.headers
        listed = (await client.get(f"{API}/accounts/{account.id}", headers=auth_headers())).json()
        assert listed["status"] == "needs_reauth"
        # Reconnecting (through the browser flow) makes it usable again.
        await connect_account(client, "john_doe")
        again = await client.get(f"{API}/account/info", params={"account_id": account.id}, headers=auth_headers())
        assert again.status_code == 200

    async def test_bad_jwt_is_told_apart_from_a_dead_instagram_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"{API}/accounts", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"

    async def test_throttled_is_429_with_retry_after(self, client: httpx.AsyncClient, make: Factory) -> None:
        account = await make.connected_account()
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "user", "kind": "throttle", "count": 10, "regain_minutes": 7}
        )
        response = await client.get(f"{API}/account/info", params={"account_id": account.id}, headers=auth_headers())
        assert response.status_code == 429
        assert response.json()["error"] == "Rate limit exceeded. Please try again later."
        assert int(response.headers["retry-after"]) >= 7 * 60

    @pytest.mark.parametrize("kind", ["server_error", "timeout"])
    async def test_instagram_failing_is_502(self, client: httpx.AsyncClient, make: Factory, kind: str) -> None:
        account = await make.connected_account()
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "media_list", "kind": kind, "count": 10, "seconds": 60}
        )
        response = await client.get(f"{API}/media", params={"account_id": account.id}, headers=auth_headers())
        assert response.status_code == 502
        assert response.json()["code"] == "instagram_unavailable"


async def test_no_token_or_secret_in_any_log_line(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    """A whole session — connect, read, publish, fail, insights — logged at DEBUG: no credential in any line."""
    from app.observability.logging import JsonFormatter

    app, client = app_and_client
    with caplog.at_level("DEBUG"):
        account = await connect_account(client)
        headers = auth_headers()
        await client.get(f"{API}/account/info", params={"account_id": account["id"]}, headers=headers)
        posted = await client.post(
            f"{API}/posts",
            headers=headers,
            json={"account_id": account["id"], "image_url": "https://example.com/a.jpg"},
        )
        await client.get(f"{API}/{posted.json()['db_id']}/insights", headers=headers)
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "media_list", "kind": "server_error", "count": 5}
        )
        await client.get(f"{API}/media", params={"account_id": account["id"]}, headers=headers)
        await client.post("/sandbox/control/revoke", json={"username": "john_doe"})
        await client.get(f"{API}/account/info", params={"account_id": account["id"]}, headers=headers)
    token = await _token_of(app, account["id"])
    assert token is not None
    secrets = [token, headers["Authorization"].removeprefix("Bearer "), app_context(app).settings.app_secret]
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert len(lines) > 10
    for line in lines:
        for secret in secrets:
            assert secret not in line
        assert not TOKEN_PATTERN.search(line)
