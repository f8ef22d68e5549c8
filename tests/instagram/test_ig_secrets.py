"""No token, code or app secret may show up in an exception, a traceback, a repr or a log line."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from app.instagram import InstagramConfig, InstagramError, LongLivedToken, ShortLivedToken, UnexpectedResponse
from app.instagram.redaction import BearerToken

from .support import APP_SECRET, GRAPH, TOKEN, TOKEN_BASE, Harness, V, graph_error

CODE = "AQBx-single-use-code-31337"
OLD_TOKEN = "IGAAold-token-xyz"


def assert_clean(error: BaseException, *secrets: str) -> None:
    rendered = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if isinstance(error, InstagramError):
        rendered += [repr(value) for value in vars(error).values()]
    for text in rendered:
        for secret in secrets:
            assert secret not in text


async def test_graph_error_that_echoes_the_token(ig: Harness) -> None:
    ig.router.get(f"{V}/me").respond(
        400,
        json=graph_error(
            190,
            f"Invalid OAuth access token - Cannot parse access token: {TOKEN}",
            error_user_msg=f"token {TOKEN} and secret {APP_SECRET}",
        ),
    )
    with pytest.raises(InstagramError) as caught:
        await ig.client.get_me(TOKEN)
    assert_clean(caught.value, TOKEN, APP_SECRET)
    assert "[redacted]" in caught.value.message


async def test_oauth_error_that_echoes_the_code_and_secret(ig: Harness) -> None:
    ig.router.post(f"{TOKEN_BASE}/oauth/access_token").respond(
        400,
        json={
            "error_type": "OAuthException",
            "code": 400,
            "error_message": f"Matching code {CODE} was not found for client_secret={APP_SECRET}",
        },
    )
    with pytest.raises(InstagramError) as caught:
        await ig.client.exchange_code(f"{CODE}#_", redirect_uri="https://service.test/cb")
    assert_clean(caught.value, CODE, APP_SECRET)


async def test_timeout_on_a_url_that_carries_the_token(ig: Harness) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)

    ig.router.get(f"{GRAPH}/access_token").mock(side_effect=time_out)
    with pytest.raises(InstagramError) as caught:
        await ig.client.exchange_long_lived(TOKEN)
    assert_clean(caught.value, TOKEN, APP_SECRET)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": TOKEN, "token_type": "bearer"},  # no expires_in
        {"access_token": TOKEN, "token_type": "bearer", "expires_in": "soon"},
        {"access_token": [TOKEN], "expires_in": 10},
    ],
)
async def test_malformed_token_answer(ig: Harness, body: object) -> None:
    ig.router.get(f"{GRAPH}/refresh_access_token").respond(200, json=body)
    with pytest.raises(UnexpectedResponse) as caught:
        await ig.client.refresh_token(OLD_TOKEN)
    assert_clean(caught.value, TOKEN, OLD_TOKEN)


async def test_retry_logs_name_no_secret(ig: Harness, caplog: pytest.LogCaptureFixture) -> None:
    route = ig.router.get(f"{GRAPH}/access_token")
    route.side_effect = [
        httpx.Response(503, text="busy"),
        httpx.Response(200, json={"access_token": "IGAAlong-new", "token_type": "bearer", "expires_in": 5183944}),
    ]
    with caplog.at_level(logging.DEBUG):
        token = await ig.client.exchange_long_lived(TOKEN)
    assert "exchange_long_lived" in caplog.text
    # httpx still logs its request line, with the credentials blanked.
    assert "access_token=[redacted]" in caplog.text
    assert "client_secret=[redacted]" in caplog.text
    for secret in (TOKEN, APP_SECRET, "IGAAlong-new"):
        assert secret not in caplog.text
    assert "IGAAlong-new" not in repr(token)


def test_models_and_config_hide_secrets() -> None:
    short = ShortLivedToken.model_validate({"access_token": TOKEN, "user_id": "1", "permissions": "a,b"})
    long = LongLivedToken.model_validate({"access_token": TOKEN, "expires_in": 10})
    config = InstagramConfig(app_id="1", app_secret=APP_SECRET)
    for thing in (short, long, config, BearerToken(TOKEN)):
        assert TOKEN not in repr(thing)
        assert TOKEN not in str(thing)
        assert APP_SECRET not in repr(thing)
    assert TOKEN not in short.model_dump_json()
