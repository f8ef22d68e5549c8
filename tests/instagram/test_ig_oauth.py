"""OAuth and token endpoints: request shapes, both answer shapes, and the single-use code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.instagram import InstagramUnavailable, OAuthError, TokenInvalid, TransientError

from .support import (
    APP_ID,
    APP_SECRET,
    AUTHORIZE_BASE,
    GRAPH,
    TOKEN_BASE,
    Harness,
    form_of,
    graph_error,
    params_of,
)

SCOPES = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
]
REDIRECT = "https://service.test/accounts/callback"
CODE_REUSED = {
    "error_type": "OAuthException",
    "code": 400,
    "error_message": "Matching code was not found or was already used",
}


class TestAuthorizeUrl:
    def test_has_every_documented_parameter(self, ig: Harness) -> None:
        url = ig.client.authorize_url(redirect_uri=REDIRECT, scopes=SCOPES, state="st-123")
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{AUTHORIZE_BASE}/oauth/authorize"
        assert parse_qs(parts.query) == {
            "client_id": [APP_ID],
            "redirect_uri": [REDIRECT],
            "response_type": ["code"],
            "scope": [",".join(SCOPES)],
            "state": ["st-123"],
        }
        # Commas stay readable, as in Instagram's own examples.
        assert "scope=instagram_business_basic,instagram_business_content_publish," in url

    def test_force_reauth(self, ig: Harness) -> None:
        url = ig.client.authorize_url(redirect_uri=REDIRECT, scopes=SCOPES, state="s", force_reauth=True)
        assert parse_qs(urlsplit(url).query)["force_reauth"] == ["true"]

    def test_a_bare_string_is_not_a_scope_list(self, ig: Harness) -> None:
        with pytest.raises(TypeError):
            ig.client.authorize_url(redirect_uri=REDIRECT, scopes="instagram_business_basic", state="s")

    def test_never_contains_the_app_secret(self, ig: Harness) -> None:
        assert APP_SECRET not in ig.client.authorize_url(redirect_uri=REDIRECT, scopes=SCOPES, state="s")


class TestExchangeCode:
    async def test_posts_the_form_and_strips_the_hash(self, ig: Harness) -> None:
        route = ig.router.post(f"{TOKEN_BASE}/oauth/access_token").respond(
            200,
            json={
                "data": [
                    {
                        "access_token": "IGQshort",
                        "user_id": "17841400000000001",
                        "permissions": "instagram_business_basic,instagram_business_content_publish",
                    }
                ]
            },
        )
        token = await ig.client.exchange_code("AQBx-code#_", redirect_uri=REDIRECT)

        request = route.calls.last.request
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert "authorization" not in request.headers
        assert form_of(request) == {
            "client_id": APP_ID,
            "client_secret": APP_SECRET,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": "AQBx-code",
        }
        assert token.access_token.get_secret_value() == "IGQshort"
        assert token.user_id == "17841400000000001"
        assert token.permissions == ["instagram_business_basic", "instagram_business_content_publish"]

    async def test_accepts_the_flat_shape_with_a_numeric_user_id(self, ig: Harness) -> None:
        ig.router.post(f"{TOKEN_BASE}/oauth/access_token").respond(
            200,
            json={
                "access_token": "IGQshort",
                "user_id": 17841400000000001,
                "permissions": ["instagram_business_basic"],
            },
        )
        token = await ig.client.exchange_code("AQBx", redirect_uri=REDIRECT)
        assert token.user_id == "17841400000000001"
        assert token.permissions == ["instagram_business_basic"]

    async def test_used_code_is_an_oauth_error_and_is_not_retried(self, ig: Harness) -> None:
        route = ig.router.post(f"{TOKEN_BASE}/oauth/access_token").respond(400, json=CODE_REUSED)
        with pytest.raises(OAuthError) as caught:
            await ig.client.exchange_code("AQBx", redirect_uri=REDIRECT)
        assert caught.value.error_type == "OAuthException"
        assert caught.value.message == "Matching code was not found or was already used"
        assert route.call_count == 1

    async def test_retries_when_no_connection_was_made(self, ig: Harness) -> None:
        route = ig.router.post(f"{TOKEN_BASE}/oauth/access_token")
        route.side_effect = [
            httpx.ConnectError("[Errno 111] Connection refused"),
            httpx.Response(200, json={"access_token": "IGQshort", "user_id": 1, "permissions": []}),
        ]
        token = await ig.client.exchange_code("AQBx", redirect_uri=REDIRECT)
        assert token.user_id == "1"
        assert route.call_count == 2
        assert len(ig.sleeps) == 1

    async def test_does_not_retry_once_the_code_may_have_been_used(self, ig: Harness) -> None:
        route = ig.router.post(f"{TOKEN_BASE}/oauth/access_token").mock(side_effect=httpx.ReadTimeout("timed out"))
        with pytest.raises(InstagramUnavailable) as caught:
            await ig.client.exchange_code("AQBx", redirect_uri=REDIRECT)
        assert caught.value.request_sent is True
        assert route.call_count == 1
        assert ig.sleeps == []

    async def test_does_not_retry_a_server_error(self, ig: Harness) -> None:
        route = ig.router.post(f"{TOKEN_BASE}/oauth/access_token").respond(503, text="busy")
        with pytest.raises(TransientError):
            await ig.client.exchange_code("AQBx", redirect_uri=REDIRECT)
        assert route.call_count == 1


class TestLongLivedTokens:
    async def test_exchange_sends_the_token_as_a_query_parameter(self, ig: Harness) -> None:
        route = ig.router.get(f"{GRAPH}/access_token").respond(
            200, json={"access_token": "IGAAlong", "token_type": "bearer", "expires_in": 5183944}
        )
        token = await ig.client.exchange_long_lived("IGQshort")

        request = route.calls.last.request
        assert request.url.path == "/access_token"  # unversioned, as documented
        assert params_of(request) == {
            "grant_type": "ig_exchange_token",
            "client_secret": APP_SECRET,
            "access_token": "IGQshort",
        }
        assert "authorization" not in request.headers
        assert token.access_token.get_secret_value() == "IGAAlong"
        assert token.token_type == "bearer"
        assert token.expires_in == 5183944

    async def test_refresh(self, ig: Harness) -> None:
        route = ig.router.get(f"{GRAPH}/refresh_access_token").respond(
            200, json={"access_token": "IGAAnew", "token_type": "bearer", "expires_in": 5184000}
        )
        token = await ig.client.refresh_token("IGAAlong")
        request = route.calls.last.request
        assert params_of(request) == {"grant_type": "ig_refresh_token", "access_token": "IGAAlong"}
        assert "authorization" not in request.headers
        assert token.access_token.get_secret_value() == "IGAAnew"

    async def test_refresh_of_an_expired_token_is_token_invalid(self, ig: Harness) -> None:
        ig.router.get(f"{GRAPH}/refresh_access_token").respond(
            400, json=graph_error(190, "Error validating access token: Session has expired.", subcode=463)
        )
        with pytest.raises(TokenInvalid):
            await ig.client.refresh_token("IGAAlong")

    async def test_expires_at_counts_from_now(self, ig: Harness) -> None:
        ig.router.get(f"{GRAPH}/access_token").respond(
            200, json={"access_token": "IGAAlong", "token_type": "bearer", "expires_in": 5183944}
        )
        token = await ig.client.exchange_long_lived("IGQshort")
        now = datetime(2026, 3, 1, tzinfo=UTC)
        assert token.expires_at(now) == now + timedelta(seconds=5183944)
        with pytest.raises(ValueError, match="timezone-aware"):
            token.expires_at(datetime(2026, 3, 1))
