"""Without PUBLIC_BASE_URL (development), OAuth and links follow the address the service is reached at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from app.accounts.models import Account
from app.main import app_context
from tests.conftest import auth_headers, make_settings, running_app
from tests.support import API

LISTENING = "http://127.0.0.1:8765"  # what HOST and PORT say
BROWSER = "http://localhost:8765"  # what the browser typed


@pytest_asyncio.fixture
async def following_app(pg_database_url: str) -> AsyncIterator[FastAPI]:
    settings = make_settings(pg_database_url, public_base_url="", host="127.0.0.1", port=8765)
    assert settings.public_base_url_follows_request
    async with running_app(settings) as (app, _):
        yield app


def _client(app: FastAPI, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def _connect(client: httpx.AsyncClient, username: str = "john_doe") -> dict[str, object]:
    base = str(client.base_url).rstrip("/")
    authorize = await client.get(f"{API}/oauth/authorize", headers=auth_headers())
    assert authorize.status_code == 200
    auth_url = authorize.json()["auth_url"]
    assert auth_url.startswith(f"{base}/sandbox/oauth/authorize?")
    assert parse_qs(urlsplit(auth_url).query)["redirect_uri"] == [f"{base}/api/sns/instagram/callback"]
    approved = await client.post(auth_url, data={"username": username})
    assert approved.status_code == 302, approved.text
    location = approved.headers["location"]
    assert location.startswith(f"{base}/api/sns/instagram/callback?code=")
    callback = await client.get(location)
    assert callback.status_code == 200, callback.text
    account: dict[str, object] = callback.json()["account"]
    return account


class TestFollowingTheRequest:
    async def test_oauth_works_on_the_address_the_browser_used(self, following_app: FastAPI) -> None:
        for base in (BROWSER, "http://192.0.2.10:18080"):
            async with _client(following_app, base) as client:
                account = await _connect(client)
                assert account["account_name"] == "john_doe"

    async def test_a_consent_page_refuses_a_redirect_to_another_address(self, following_app: FastAPI) -> None:
        async with _client(following_app, BROWSER) as client:
            authorize = await client.get(f"{API}/oauth/authorize", headers=auth_headers())
            auth_url = authorize.json()["auth_url"].replace("localhost:8765", "localhost:9999", 1)
            stolen = auth_url.replace("localhost%3A8765", "evil.example%3A80")
        async with _client(following_app, "http://localhost:9999") as other:
            page = await other.get(stolen)
        assert page.status_code == 400
        assert "Invalid redirect_uri" in page.text

    async def test_stored_picture_keeps_no_host_and_port(self, following_app: FastAPI) -> None:
        async with _client(following_app, BROWSER) as client:
            account = await _connect(client)
            assert account["profile_picture_url"] == f"{BROWSER}/sandbox/cdn/{account['platform_user_id']}/profile.jpg"
        async with app_context(following_app).sessionmaker() as session:
            stored = (await session.scalars(select(Account))).one()
        assert stored.profile_picture_url == f"/sandbox/cdn/{account['platform_user_id']}/profile.jpg"
        # The next run serves on another port: the same account answers links that work there.
        async with _client(following_app, "http://localhost:9100") as moved:
            listed = (await moved.get(f"{API}/accounts", headers=auth_headers())).json()
            assert listed[0]["profile_picture_url"].startswith("http://localhost:9100/sandbox/cdn/")
            picture = await moved.get(listed[0]["profile_picture_url"])
            assert picture.status_code == 200
            assert picture.headers["content-type"] == "image/jpeg"
            info = (await moved.get(f"{API}/account/info?account_id={account['id']}", headers=auth_headers())).json()
            assert info["profile_picture_url"].startswith("http://localhost:9100/sandbox/cdn/")
            media = (await moved.get(f"{API}/media?account_id={account['id']}", headers=auth_headers())).json()
            assert media["posts"]
            assert all(p["media_url"].startswith("http://localhost:9100/sandbox/cdn/") for p in media["posts"])

    async def test_a_link_stored_before_with_an_old_port_is_answered_on_todays(self, following_app: FastAPI) -> None:
        async with _client(following_app, BROWSER) as client:
            account = await _connect(client)
            async with app_context(following_app).sessionmaker() as session:
                stored = (await session.scalars(select(Account))).one()
                stored.profile_picture_url = "http://localhost:8000/sandbox/cdn/1/profile.jpg"
                await session.commit()
            got = (await client.get(f"{API}/accounts/{account['id']}", headers=auth_headers())).json()
        assert got["profile_picture_url"] == f"{BROWSER}/sandbox/cdn/1/profile.jpg"


class TestFixedPublicBaseUrl:
    async def test_a_set_public_base_url_is_used_whatever_the_host(self, pg_database_url: str) -> None:
        settings = make_settings(pg_database_url, public_base_url="https://svc.example.com")
        async with running_app(settings) as (app, _), _client(app, "http://127.0.0.1:8765") as client:
            authorize = (await client.get(f"{API}/oauth/authorize", headers=auth_headers())).json()
        assert authorize["auth_url"].startswith("https://svc.example.com/sandbox/oauth/authorize?")
        redirect_uri = parse_qs(urlsplit(authorize["auth_url"]).query)["redirect_uri"]
        assert redirect_uri == ["https://svc.example.com/api/sns/instagram/callback"]
