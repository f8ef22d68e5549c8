"""Checklist 1–4: the authorization window, the code exchange, long-lived tokens, refresh, token validation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings

from .helpers import (
    ALL_SCOPES,
    BASE_URL,
    GRAPH,
    SANDBOX,
    advance,
    authorize_query,
    control,
    error_of,
    exchange_code,
    get_code,
    long_token,
    make_settings,
    me,
    mounted,
    short_token,
)

BASIC = "instagram_business_basic"


class TestAuthorizeWindow:
    async def test_consent_page(self, client: httpx.AsyncClient, settings: Settings) -> None:
        response = await client.get(f"{SANDBOX}/oauth/authorize", params=authorize_query(settings))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert settings.app_id in page
        for scope in ALL_SCOPES.split(","):
            assert scope in page
        assert 'name="username"' in page
        assert 'value="allow"' in page and 'value="cancel"' in page
        assert 'method="post"' in page
        # The form posts to the same URL with the same query string.
        assert f'action="?{response.request.url.query.decode().replace("&", "&amp;")}"' in page

    @pytest.mark.parametrize(
        ("change", "fragment"),
        [
            ({"client_id": "999"}, "Invalid platform app"),
            ({"client_id": ""}, "client_id"),
            ({"redirect_uri": "https://evil.example.net/cb"}, "Invalid redirect_uri"),
            ({"redirect_uri": "http://localhost:8000/api/sns/instagram/callback/"}, "Invalid redirect_uri"),
            ({"response_type": "token"}, "response_type"),
            ({"scope": f"{BASIC},user_profile"}, "user_profile"),
            ({"scope": "business_basic"}, "business_basic"),
            ({"scope": "instagram_business_content_publish"}, f"{BASIC} scope is required"),
        ],
    )
    async def test_invalid_requests_show_an_error_page(
        self, client: httpx.AsyncClient, settings: Settings, change: dict[str, str], fragment: str
    ) -> None:
        query = authorize_query(settings) | change
        for method in ("GET", "POST"):
            response = await client.request(
                method, f"{SANDBOX}/oauth/authorize", params=query, data={"username": "a"} if method == "POST" else None
            )
            assert response.status_code == 400
            assert response.headers["content-type"].startswith("text/html")
            assert fragment in response.text

    async def test_space_separated_scopes(self, client: httpx.AsyncClient, settings: Settings) -> None:
        query = authorize_query(settings, scope=f"{BASIC} instagram_business_manage_insights")
        response = await client.get(f"{SANDBOX}/oauth/authorize", params=query)
        assert response.status_code == 200
        assert "instagram_business_manage_insights" in response.text

    async def test_allow_redirects_with_code_and_state(self, client: httpx.AsyncClient, settings: Settings) -> None:
        response = await client.post(
            f"{SANDBOX}/oauth/authorize", params=authorize_query(settings, state="s t&ate"), data={"username": "Jane_D"}
        )
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith(settings.oauth_redirect_uri + "?")
        assert location.endswith("#_")
        query = parse_qs(urlsplit(location.removesuffix("#_")).query)
        assert query["state"] == ["s t&ate"]
        assert query["code"][0]
        users = await control(client, "GET", "/users")
        assert [u["username"] for u in users["data"]] == ["jane_d"]

    async def test_cancel_redirects_with_access_denied(self, client: httpx.AsyncClient, settings: Settings) -> None:
        response = await client.post(
            f"{SANDBOX}/oauth/authorize", params=authorize_query(settings), data={"username": "", "action": "cancel"}
        )
        assert response.status_code == 302
        assert response.headers["location"] == (
            f"{settings.oauth_redirect_uri}?error=access_denied&error_reason=user_denied"
            "&error_description=The+user+denied+your+request&state=xyz"
        )

    async def test_invalid_username_shows_the_form_again(self, client: httpx.AsyncClient, settings: Settings) -> None:
        response = await client.post(
            f"{SANDBOX}/oauth/authorize", params=authorize_query(settings), data={"username": "no spaces!"}
        )
        assert response.status_code == 400
        assert 'name="username"' in response.text
        assert "valid username" in response.text

    async def test_the_form_says_which_username_characters_are_allowed(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        page = (await client.get(f"{SANDBOX}/oauth/authorize", params=authorize_query(settings))).text
        rule = "Up to 30 letters, digits, periods (.) and underscores (_); no hyphens or spaces."
        # Shown under the field, and by the browser beside "Please match the requested format" (title).
        assert f'<p class="note" id="username-hint">{rule}</p>' in page
        assert f'title="{rule}"' in page
        refused = await client.post(
            f"{SANDBOX}/oauth/authorize", params=authorize_query(settings), data={"username": "john-doe"}
        )
        assert refused.status_code == 400
        assert rule in refused.text


class TestCodeExchange:
    async def test_nested_shape_by_default(self, client: httpx.AsyncClient, settings: Settings) -> None:
        code = await get_code(client, settings, "john_doe", f"{BASIC},instagram_business_content_publish")
        response = await exchange_code(client, settings, code)
        assert response.status_code == 200
        (entry,) = response.json()["data"]
        assert entry["access_token"].startswith("IGAA")
        assert entry["user_id"].startswith("1784140") and len(entry["user_id"]) == 17
        assert entry["permissions"] == f"{BASIC},instagram_business_content_publish"

    async def test_flat_shape_switch(self, client: httpx.AsyncClient, settings: Settings) -> None:
        await control(client, "PATCH", "/settings", {"token_response_shape": "flat"})
        response = await exchange_code(client, settings, await get_code(client, settings))
        body = response.json()
        assert set(body) == {"access_token", "user_id", "permissions"}
        assert isinstance(body["user_id"], int)
        assert body["permissions"] == ALL_SCOPES.split(",")

    async def test_code_is_single_use(self, client: httpx.AsyncClient, settings: Settings) -> None:
        code = await get_code(client, settings)
        assert (await exchange_code(client, settings, code)).status_code == 200
        again = await exchange_code(client, settings, code)
        assert again.status_code == 400
        assert again.json() == {
            "error_type": "OAuthException",
            "code": 400,
            "error_message": "Matching code was not found or was already used",
        }

    async def test_unknown_code(self, client: httpx.AsyncClient, settings: Settings) -> None:
        response = await exchange_code(client, settings, "AQnot-a-code")
        assert response.status_code == 400
        assert response.json()["error_message"] == "Matching code was not found or was already used"

    async def test_code_expires_after_an_hour(self, client: httpx.AsyncClient, settings: Settings) -> None:
        code = await get_code(client, settings)
        await advance(client, 3601)
        response = await exchange_code(client, settings, code)
        assert response.status_code == 400
        assert response.json()["error_message"] == "This authorization code has expired."

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("client_secret", "wrong", "Invalid client secret"),
            ("client_id", "42", "Invalid platform app"),
            ("grant_type", "password", "Unsupported grant_type: only authorization_code is supported"),
            ("redirect_uri", "https://other.example.net/cb", "Error validating verification code"),
            ("client_secret", "", "Missing required field client_secret"),
        ],
    )
    async def test_rejections(
        self, client: httpx.AsyncClient, settings: Settings, field: str, value: str, message: str
    ) -> None:
        code = await get_code(client, settings)
        form = {
            "client_id": settings.app_id,
            "client_secret": settings.app_secret,
            "grant_type": "authorization_code",
            "redirect_uri": settings.oauth_redirect_uri,
            "code": code,
        } | {field: value}
        response = await client.post(f"{SANDBOX}/oauth/access_token", data=form)
        assert response.status_code == 400
        body = response.json()
        assert body["error_type"] == "OAuthException" and body["code"] == 400
        assert body["error_message"].startswith(message)
        # A rejected exchange doesn't burn the code.
        assert (await exchange_code(client, settings, code)).status_code == 200


class TestLongLivedTokens:
    async def test_exchange(self, client: httpx.AsyncClient, settings: Settings) -> None:
        short = await short_token(client, settings)
        response = await client.get(
            f"{SANDBOX}/graph/access_token",
            params={"grant_type": "ig_exchange_token", "client_secret": settings.app_secret, "access_token": short},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 60 * 86400
        assert body["access_token"].startswith("IGAA") and body["access_token"] != short
        assert "x-app-usage" in response.headers

    async def test_exchange_rules(self, client: httpx.AsyncClient, settings: Settings) -> None:
        short = await short_token(client, settings)
        url = f"{SANDBOX}/graph/access_token"
        wrong_secret = await client.get(
            url, params={"grant_type": "ig_exchange_token", "client_secret": "nope", "access_token": short}
        )
        assert error_of(wrong_secret)["code"] == 101
        long = await long_token(client, settings)
        not_short = await client.get(
            url, params={"grant_type": "ig_exchange_token", "client_secret": settings.app_secret, "access_token": long}
        )
        assert not_short.status_code == 400
        assert error_of(not_short)["type"] == "IGApiException"
        await advance(client, 3601)
        expired = await client.get(
            url, params={"grant_type": "ig_exchange_token", "client_secret": settings.app_secret, "access_token": short}
        )
        assert (error_of(expired)["code"], error_of(expired)["error_subcode"]) == (190, 463)

    async def test_refresh_rules(self, client: httpx.AsyncClient, settings: Settings) -> None:
        long = await long_token(client, settings)
        url = f"{SANDBOX}/graph/refresh_access_token"
        params = {"grant_type": "ig_refresh_token", "access_token": long}
        too_young = await client.get(url, params=params)
        assert too_young.status_code == 400
        assert error_of(too_young)["code"] == 100
        assert "24 hours" in error_of(too_young)["error_user_msg"]
        short = await short_token(client, settings)
        not_long = await client.get(url, params={"grant_type": "ig_refresh_token", "access_token": short})
        assert error_of(not_long)["code"] == 100
        await advance(client, 25 * 3600)
        refreshed = await client.get(url, params=params)
        assert refreshed.status_code == 200, refreshed.text
        body = refreshed.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 60 * 86400
        # The new token lives 60 days from now: still valid when the old one has died.
        await advance(client, 59 * 86400)
        old = await client.get(url, params=params)
        assert (error_of(old)["code"], error_of(old)["error_subcode"]) == (190, 463)
        assert (await me(client, body["access_token"]))["username"] == "john_doe"


class TestTokenValidation:
    async def test_header_or_parameter(self, client: httpx.AsyncClient, settings: Settings) -> None:
        token = await long_token(client, settings)
        for headers in ({"Authorization": f"Bearer {token}"}, {"Authorization": f"OAuth {token}"}):
            response = await client.get(f"{GRAPH}/me", params={"fields": "username"}, headers=headers)
            assert response.json()["username"] == "john_doe"
        assert (await me(client, token))["username"] == "john_doe"

    @pytest.mark.parametrize("token", ["garbage", "IGAAabc.def", "IGQVJ-looks-real"])
    async def test_unparseable(self, client: httpx.AsyncClient, token: str) -> None:
        response = await client.get(f"{GRAPH}/me", params={"access_token": token})
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == 190 and "error_subcode" not in error
        assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
        assert error["type"] == "OAuthException"
        assert set(error) == {
            "message",
            "type",
            "code",
            "is_transient",
            "error_user_title",
            "error_user_msg",
            "fbtrace_id",
        }

    async def test_tampered_signature(self, client: httpx.AsyncClient, settings: Settings) -> None:
        token = await long_token(client, settings)
        payload, signature = token.split(".")
        forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
        assert error_of(await client.get(f"{GRAPH}/me", params={"access_token": forged}))["code"] == 190

    async def test_missing_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"{GRAPH}/me")
        assert response.status_code == 400
        assert error_of(response)["code"] == 2500

    async def test_expired_token(self, client: httpx.AsyncClient, settings: Settings) -> None:
        short = await short_token(client, settings)
        await advance(client, 3600 + 5)
        response = await client.get(f"{GRAPH}/me", params={"access_token": short})
        assert response.status_code == 400
        error = error_of(response)
        assert (error["code"], error["error_subcode"]) == (190, 463)
        assert error["message"].startswith("Error validating access token: Session has expired on ")
        assert "The current time is" in error["message"]

    async def test_revoked_user_tokens(self, client: httpx.AsyncClient, settings: Settings) -> None:
        token = await long_token(client, settings)
        other = await long_token(client, settings, "someone_else")
        await control(client, "POST", "/revoke", {"username": "john_doe"})
        error = error_of(await client.get(f"{GRAPH}/me", params={"access_token": token}))
        assert (error["code"], error["error_subcode"]) == (190, 460)
        assert "changed their password" in error["message"]
        assert (await me(client, other))["username"] == "someone_else"
        # Logging in again gives a working token.
        assert (await me(client, await long_token(client, settings)))["username"] == "john_doe"

    async def test_revoke_one_token(self, client: httpx.AsyncClient, settings: Settings) -> None:
        first = await long_token(client, settings)
        second = await long_token(client, settings)
        await control(client, "POST", "/revoke", {"access_token": first})
        assert error_of(await client.get(f"{GRAPH}/me", params={"access_token": first}))["error_subcode"] == 460
        assert (await me(client, second))["username"] == "john_doe"

    async def test_tokens_survive_a_restart(self, client: httpx.AsyncClient, settings: Settings) -> None:
        token = await long_token(client, settings)
        before = await me(client, token)
        restarted = mounted(settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=restarted), base_url=BASE_URL) as fresh:
            # A path naming the app-scoped id works too, before anything re-created the account.
            again = mounted(settings)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=again), base_url=BASE_URL) as other:
                node = await other.get(f"{GRAPH}/{before['id']}", params={"fields": "username", "access_token": token})
                assert node.json() == {"username": "john_doe", "id": before["id"]}
            assert await me(fresh, token) == before
            media = await fresh.get(f"{GRAPH}/{before['user_id']}/media", params={"access_token": token})
            assert len(media.json()["data"]) >= 3

    async def test_another_app_secret_rejects_the_token(self, client: httpx.AsyncClient, settings: Settings) -> None:
        token = await long_token(client, settings)
        other = mounted(make_settings(instagram_app_id="77", instagram_app_secret=SecretStr("another-secret")))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url=BASE_URL) as foreign:
            response = await foreign.get(f"{GRAPH}/me", params={"access_token": token})
            assert error_of(response)["code"] == 190
