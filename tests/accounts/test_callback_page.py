"""The OAuth callback opened by a browser answers a small page; API clients keep the JSON."""

from __future__ import annotations

import httpx

from tests.conftest import auth_headers, make_settings, running_app
from tests.support import API

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


async def _approved_location(client: httpx.AsyncClient, username: str = "john_doe", action: str = "allow") -> str:
    authorize = await client.get(f"{API}/oauth/authorize", headers=auth_headers())
    approved = await client.post(authorize.json()["auth_url"], data={"username": username, "action": action})
    assert approved.status_code == 302
    return approved.headers["location"]


class TestInABrowser:
    async def test_connected_page(self, pg_client: httpx.AsyncClient) -> None:
        response = await pg_client.get(await _approved_location(pg_client), headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert "Connected @john_doe" in page
        accounts = (await pg_client.get(f"{API}/accounts", headers=auth_headers())).json()
        assert f"account_id {accounts[0]['id']}" in page
        assert "POST /api/sns/instagram/posts" in page
        assert "IGAA" not in page and "access_token" not in page

    async def test_cancelled_consent_is_told_in_words_with_a_way_back(self, pg_client: httpx.AsyncClient) -> None:
        location = await _approved_location(pg_client, action="cancel")
        response = await pg_client.get(location, headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert "was not connected" in response.text
        assert "Instagram authorization was not granted" in response.text
        assert 'id="start-again" href="/docs#/oauth"' in response.text
        assert (await pg_client.get(f"{API}/accounts", headers=auth_headers())).json() == []

    async def test_a_replayed_state_is_an_error_page_too(self, pg_client: httpx.AsyncClient) -> None:
        location = await _approved_location(pg_client)
        assert (await pg_client.get(location, headers={"Accept": BROWSER_ACCEPT})).status_code == 200
        replay = await pg_client.get(location, headers={"Accept": BROWSER_ACCEPT})
        assert replay.status_code == 400
        assert "already used" in replay.text

    async def test_usernames_are_escaped(self, pg_client: httpx.AsyncClient) -> None:
        # The sandbox refuses such a username, so the page never sees one; the error page escapes the message.
        response = await pg_client.get(
            f"{API}/callback",
            params={"state": "<script>alert(1)</script>", "code": "x"},
            headers={"Accept": BROWSER_ACCEPT},
        )
        assert response.status_code == 400
        assert "<script>" not in response.text


class TestApiClients:
    async def test_json_stays_for_clients_that_do_not_ask_for_html(self, pg_client: httpx.AsyncClient) -> None:
        for accept in ("*/*", "application/json", "application/json, text/html"):
            location = await _approved_location(pg_client, username=f"user_{len(accept)}")
            response = await pg_client.get(location, headers={"Accept": accept})
            assert response.status_code == 200
            assert response.json()["message"]
            assert response.json()["account"]["account_name"] == f"user_{len(accept)}"

    async def test_errors_stay_json(self, pg_client: httpx.AsyncClient) -> None:
        location = await _approved_location(pg_client, action="cancel")
        response = await pg_client.get(location)
        assert response.status_code == 400
        assert response.json()["code"] == "access_denied"

    async def test_a_configured_redirect_wins_over_the_page(self, pg_database_url: str) -> None:
        settings = make_settings(pg_database_url, oauth_success_redirect="https://app.example.com/connected")
        async with running_app(settings) as (_, client):
            response = await client.get(await _approved_location(client), headers={"Accept": BROWSER_ACCEPT})
        assert response.status_code == 302
        assert response.headers["location"].startswith("https://app.example.com/connected?status=success")
