"""Seed §1: connecting an account through the browser-style OAuth flow, and every way it can go wrong."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from app.accounts.models import Account, OAuthStateUse
from app.accounts.oauth_state import issue_state
from app.db import utcnow
from app.main import app_context
from tests.conftest import TOKEN_KEY, auth_headers, make_settings, running_app
from tests.support import API, connect_account

SEED_ACCOUNT_KEYS = {
    "id",
    "platform",
    "account_name",
    "is_active",
    "platform_user_id",
    "profile_picture_url",
    "account_type",
    "followers_count",
    "following_count",
    "token_expires_at",
    "created_at",
}


async def _authorize(client: httpx.AsyncClient, sub: str = "alice") -> str:
    response = await client.get(f"{API}/oauth/authorize", headers=auth_headers(sub))
    assert response.status_code == 200
    return str(response.json()["auth_url"])


async def _approve(client: httpx.AsyncClient, auth_url: str, username: str = "john_doe") -> str:
    approved = await client.post(auth_url, data={"username": username})
    assert approved.status_code == 302
    return approved.headers["location"]


async def _accounts(app: FastAPI) -> list[Account]:
    async with app_context(app).sessionmaker() as session:
        return list((await session.scalars(select(Account))).all())


class TestAuthorizeUrl:
    async def test_seed_step_1(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            f"{API}/oauth/authorize", headers={**auth_headers(), "Content-Type": "application/json"}
        )
        assert response.status_code == 200
        assert set(response.json()) >= {"auth_url"}
        url = urlsplit(response.json()["auth_url"])
        query = parse_qs(url.query)
        assert url.path.endswith("/oauth/authorize")
        assert query["redirect_uri"] == ["http://localhost:8000/api/sns/instagram/callback"]
        assert query["response_type"] == ["code"]
        assert query["scope"][0].split(",") == [
            "instagram_business_basic",
            "instagram_business_content_publish",
            "instagram_business_manage_insights",
            "instagram_business_manage_comments",
        ]
        assert query["client_id"] and query["state"]

    async def test_needs_a_bearer_token(self, client: httpx.AsyncClient) -> None:
        assert (await client.get(f"{API}/oauth/authorize")).status_code == 401


class TestCallback:
    async def test_browser_flow_connects_the_account(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        _, client = app_and_client
        account = await connect_account(client, "john_doe")
        assert set(account) >= SEED_ACCOUNT_KEYS
        assert account["platform"] == "instagram"
        assert account["account_name"] == "john_doe"
        assert account["is_active"] is True
        assert account["account_type"] == "business"
        assert account["token_expires_at"].endswith("Z")
        listed = (await client.get(f"{API}/accounts", headers=auth_headers())).json()
        assert [a["id"] for a in listed] == [account["id"]]

    async def test_tokens_are_encrypted_at_rest(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = app_and_client
        await connect_account(client)
        ctx = app_context(app)
        async with ctx.sessionmaker() as session:
            rows = (await session.execute(text("SELECT * FROM accounts"))).mappings().all()
        raw = rows[0]["access_token_encrypted"]
        token = ctx.cipher.decrypt(raw)
        assert token.startswith("IGAA")
        dump = repr([dict(r) for r in rows])
        assert token not in dump

    async def test_forged_state_is_refused_and_nothing_stored(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = app_and_client
        location = await _approve(client, await _authorize(client))
        query = parse_qs(urlsplit(location).query)
        payload, signature = query["state"][0].split(".")
        forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
        response = await client.get(
            f"{API}/callback", params={"code": query["code"][0], "state": f"{forged_payload}.{signature}"}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_state"
        assert await _accounts(app) == []

    async def test_expired_state_is_refused(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = app_and_client
        state, _ = issue_state("alice", [TOKEN_KEY], timedelta(minutes=10), utcnow() - timedelta(minutes=11))
        response = await client.get(f"{API}/callback", params={"code": "whatever", "state": state})
        assert response.status_code == 400
        assert "expired" in response.json()["error"]
        assert await _accounts(app) == []

    async def test_replayed_state_is_refused(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = app_and_client
        location = await _approve(client, await _authorize(client))
        first = await client.get(location)
        assert first.status_code == 200
        replay = await client.get(location)
        assert replay.status_code == 400
        assert "already used" in replay.json()["error"]
        assert len(await _accounts(app)) == 1

    async def test_user_cancels(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = app_and_client
        auth_url = await _authorize(client)
        cancelled = await client.post(auth_url, data={"username": "john_doe", "action": "cancel"})
        assert cancelled.status_code == 302
        assert "error=access_denied" in cancelled.headers["location"]
        response = await client.get(cancelled.headers["location"])
        assert response.status_code == 400
        assert response.json()["code"] == "access_denied"
        assert await _accounts(app) == []

    async def test_missing_state(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"{API}/callback", params={"code": "abc"})
        assert response.status_code == 400
        assert response.json()["error"] == "state is required"

    async def test_code_refused_by_instagram(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = app_and_client
        location = await _approve(client, await _authorize(client))
        query = parse_qs(urlsplit(location).query)
        response = await client.get(f"{API}/callback", params={"code": "not-the-code", "state": query["state"][0]})
        assert response.status_code == 400
        assert response.json()["code"] == "oauth_failed"
        assert await _accounts(app) == []

    async def test_instagram_down_during_exchange(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = app_and_client
        location = await _approve(client, await _authorize(client))
        await client.post(
            "/sandbox/control/faults", json={"endpoint": "exchange_token", "kind": "server_error", "count": 10}
        )
        response = await client.get(location)
        assert response.status_code == 502
        assert await _accounts(app) == []

    async def test_flat_token_shape(self, client: httpx.AsyncClient) -> None:
        await client.patch("/sandbox/control/settings", json={"token_response_shape": "flat"})
        account = await connect_account(client)
        assert account["is_active"] is True

    async def test_reconnecting_reactivates_the_same_account(
        self, app_and_client: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        app, client = app_and_client
        first = await connect_account(client)
        assert (await client.delete(f"{API}/accounts/{first['id']}", headers=auth_headers())).status_code == 200
        again = await connect_account(client)
        assert again["id"] == first["id"]
        assert again["is_active"] is True
        assert len(await _accounts(app)) == 1

    async def test_two_users_connect_the_same_instagram_account(self, client: httpx.AsyncClient) -> None:
        alice = await connect_account(client, "shared_brand", sub="alice")
        bob = await connect_account(client, "shared_brand", sub="bob")
        assert alice["id"] != bob["id"]
        assert alice["platform_user_id"] == bob["platform_user_id"]
        alice_list = (await client.get(f"{API}/accounts", headers=auth_headers("alice"))).json()
        bob_list = (await client.get(f"{API}/accounts", headers=auth_headers("bob"))).json()
        assert [a["id"] for a in alice_list] == [alice["id"]]
        assert [a["id"] for a in bob_list] == [bob["id"]]

    async def test_state_use_is_recorded(self, app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
        app, client = app_and_client
        account = await connect_account(client)
        async with app_context(app).sessionmaker() as session:
            uses = (await session.scalars(select(OAuthStateUse))).all()
        assert [u.account_id for u in uses] == [account["id"]]


@pytest.mark.parametrize("outcome", ["success", "error"])
async def test_redirects_to_the_front_end_when_configured(sqlite_database_url: str, outcome: str) -> None:
    settings = make_settings(sqlite_database_url, oauth_success_redirect="https://app.example.com/settings/instagram")
    async with running_app(settings) as (_, client):
        location = await _approve(client, await _authorize(client))
        if outcome == "error":
            location = location.replace("state=", "state=x")
        response = await client.get(location)
        assert response.status_code == 302
        target = urlsplit(response.headers["location"])
        assert target.netloc == "app.example.com"
        query = parse_qs(target.query)
        assert query["status"] == [outcome]
        if outcome == "success":
            assert query["account_id"] == ["1"]
        else:
            assert query["error"] == ["invalid_state"]


async def test_token_key_rotation(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """New key first, old key kept: everything still decrypts; after rotate-keys the old key can go."""
    from cryptography.fernet import Fernet

    from app.cli import rotate_token_keys
    from app.crypto import TokenCipher, TokenDecryptionError

    app, client = app_and_client
    await connect_account(client)
    ctx = app_context(app)
    new_key = Fernet.generate_key().decode()
    ctx.cipher = TokenCipher([new_key, TOKEN_KEY])
    assert await rotate_token_keys(ctx) == {"re-encrypted": 1}
    async with ctx.sessionmaker() as session:
        account = await session.scalar(select(Account))
    assert account is not None and account.access_token_encrypted is not None
    assert TokenCipher([new_key]).decrypt(account.access_token_encrypted).startswith("IGAA")
    with pytest.raises(TokenDecryptionError):
        TokenCipher([TOKEN_KEY]).decrypt(account.access_token_encrypted)
