"""Test helpers: an InstagramClient wired to a respx router, with recorded sleeps and calls.

The client gets the router as its transport, so no test can open a network connection: an unmocked
request fails the test instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

from app.instagram import InstagramClient, InstagramConfig
from app.instagram.throttle import AccountPauses

AUTHORIZE_BASE = "https://www.instagram.test"
TOKEN_BASE = "https://api.instagram.test"
GRAPH = "https://graph.instagram.test"
V = f"{GRAPH}/v25.0"
APP_ID = "990001"
APP_SECRET = "app-secret-5f1e2d"
TOKEN = "IGAAtoken-7c9b1a-very-secret"


def make_config(**overrides: Any) -> InstagramConfig:
    values: dict[str, Any] = {
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "authorize_base_url": AUTHORIZE_BASE,
        "token_base_url": TOKEN_BASE,
        "graph_base_url": GRAPH,
    }
    values.update(overrides)
    return InstagramConfig(**values)


@dataclass
class Harness:
    """A client plus what it did: the routes it hit, the sleeps it asked for, the calls it reported."""

    client: InstagramClient
    router: respx.MockRouter
    sleeps: list[float] = field(default_factory=list)
    calls: list[tuple[str, str, float]] = field(default_factory=list)


def make_harness(
    config: InstagramConfig | None = None, *, random_value: float = 0.5, pauses: AccountPauses | None = None
) -> Harness:
    router = respx.MockRouter(assert_all_mocked=True, assert_all_called=False)
    sleeps: list[float] = []
    calls: list[tuple[str, str, float]] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = InstagramClient(
        config or make_config(),
        transport=httpx.MockTransport(router.async_handler),
        on_call=lambda operation, outcome, seconds: calls.append((operation, outcome, seconds)),
        sleep=fake_sleep,
        random=lambda: random_value,
        pauses=pauses,
    )
    return Harness(client=client, router=router, sleeps=sleeps, calls=calls)


def graph_error(code: int, message: str, *, subcode: int | None = None, **extra: Any) -> dict[str, dict[str, Any]]:
    """A Graph API error envelope as Instagram sends it."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def form_of(request: httpx.Request) -> dict[str, str]:
    """The url-encoded form body of a request as a flat dict."""
    parsed = parse_qs(request.content.decode(), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)
