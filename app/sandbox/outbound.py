"""Calls the sandbox makes to the app's own URLs, as Meta's servers would: webhook deliveries, the webhook
verification handshake, and the deauthorize and data-deletion callbacks.

They go through the `fetch_transport` handed to `create_sandbox_app` when there is one (so an embedding service
can answer its own URLs in-process), otherwise over the network with plain httpx.
"""

from __future__ import annotations

import httpx

OUTBOUND_TIMEOUT_SECONDS = 10.0
# What Meta's webhook and callback requests announce themselves as.
OUTBOUND_USER_AGENT = "facebookexternalua"


class OutboundHttp:
    """One httpx client for the calls to the app, created on first use (inside the running event loop)."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None) -> None:
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(OUTBOUND_TIMEOUT_SECONDS),
                follow_redirects=False,
                headers={"User-Agent": OUTBOUND_USER_AGENT},
            )
        return self._client

    async def aclose(self) -> None:
        # A transport handed in by the service belongs to the service: closing our client would close it.
        if self._client is not None and self._transport is None:
            await self._client.aclose()
        self._client = None


def describe_failure(exc: BaseException) -> str:
    """A short text for a call that got no HTTP answer (DNS, refused connection, timeout, a crashing app)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {OUTBOUND_TIMEOUT_SECONDS:g} s ({type(exc).__name__})"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
