"""An httpx transport that sends some URL prefixes to in-process ASGI apps and the rest to the network.

The embedded mode uses it twice: the Instagram client reaches the mounted sandbox without a loopback
hop (so it works whatever PUBLIC_BASE_URL is), and the sandbox fetches this service's prepared media the
same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx


class PrefixRoutingTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        routes: Sequence[tuple[str, httpx.AsyncBaseTransport]],
        default: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._routes = list(routes)
        self._default = default or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        for prefix, transport in self._routes:
            if url.startswith(prefix):
                return await transport.handle_async_request(request)
        return await self._default.handle_async_request(request)

    async def aclose(self) -> None:
        for _, transport in self._routes:
            await transport.aclose()
        await self._default.aclose()


class TimeoutASGITransport(httpx.ASGITransport):
    """httpx's ASGI transport, with the read timeout enforced as the network transport would.

    Plain ASGITransport ignores timeouts (they live in the socket layer), so an in-process emulator told
    to stall would stall its caller forever instead of producing the timeout the caller must handle.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        if read_timeout is None:
            return await super().handle_async_request(request)
        try:
            async with asyncio.timeout(read_timeout):
                return await super().handle_async_request(request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("timed out waiting for the in-process app", request=request) from exc
