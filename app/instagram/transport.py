"""An httpx transport that sends through aiohttp: httpx stays the client's interface, aiohttp keeps the pool.

Why: under load, most of the API's CPU per proxied request went to httpcore's pool bookkeeping (every request
walks every pooled connection and polls its socket). aiohttp's connector hands out an idle connection in O(1).

What the client relies on, and this transport keeps:
- A failure BEFORE the request was written (refused, DNS, TLS, no free connection in time) is
  `httpx.ConnectError` / `httpx.ConnectTimeout`: the request certainly had no effect, so even a non-idempotent
  call may be retried. A failure AFTER it may have been written (reset, server gone, silence, a broken answer)
  is `httpx.ReadError` / `httpx.WriteError` / `httpx.ReadTimeout` / `httpx.RemoteProtocolError`, which the
  client counts as "request sent" (media_publish is then never retried; calls.py, retry.py).
  aiohttp itself resends only idempotent methods once when a kept-alive connection turns out closed, as
  httpcore does; never a POST.
- httpx's timeouts (`request.extensions["timeout"]`): connect (pool wait included), read between bytes.
- Bodies stream: the answer is read as the caller reads it; gzip and the like are left to httpx to decode
  (aiohttp's own decompression is off, so they are not decoded twice).
- A proxy from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), as httpx's own transport
  honours them: read once, decided once per host (aiohttp's own `trust_env` would ask a thread per request).
- No cookies kept between calls, no redirect followed: the client asks for neither.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL

_CHUNK = 64 * 1024  # the most of an answer's body handed on at once


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one `aiohttp.ClientSession` with a bounded connection pool.

    The session is made on the first request, inside the running event loop (aiohttp binds it to that loop),
    so the transport can be built anywhere, as the client is.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_seconds: float,
        proxies: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`proxies`: scheme (or "all", "no") to proxy URL, as urllib reads them; default: the environment's.
        `ssl_context`: what to trust; default: what httpx's own transports trust (one context per process can be
        shared by every client: each copy holds the CA bundle, about 1 MB)."""
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if keepalive_seconds <= 0:
            raise ValueError("keepalive_seconds must be positive")
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._proxies = dict(urllib.request.getproxies_environment() if proxies is None else proxies)
        self._proxy_by_origin: dict[tuple[str, str], URL | None] = {}
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _proxy_for(self, url: httpx.URL) -> URL | None:
        """The proxy for this URL's scheme and host (NO_PROXY honoured); decided once per origin."""
        origin = (url.scheme, url.host)
        if origin not in self._proxy_by_origin:
            proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
            if proxy and _bypassed(url.host, self._proxies.get("no", "")):
                proxy = None
            if proxy and "://" not in proxy:
                proxy = f"http://{proxy}"
            self._proxy_by_origin[origin] = URL(proxy) if proxy else None
        return self._proxy_by_origin[origin]

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the transport is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,  # the one limit is the total: the client talks to one or two hosts
                keepalive_timeout=self._keepalive_seconds,
                # What httpx's own transport trusts, so changing transport changes no certificate verdict.
                ssl=self._ssl_context or httpx.create_ssl_context(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes Content-Encoding itself
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._get_session()
        headers = CIMultiDict(request.headers.multi_items())
        data: Any = None
        if isinstance(request.stream, httpx.ByteStream):
            body = await request.aread()
            data = body or None
        else:
            data = _request_chunks(request.stream)
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=data,
                allow_redirects=False,
                proxy=self._proxy_for(request.url),
                # aiohttp adds a Content-Type of its own to a body that has none; httpx's request is sent as is.
                skip_auto_headers=("Content-Type", "User-Agent", "Accept-Encoding", "Accept"),
                timeout=_timeout(request),
            )
        except Exception as exc:
            mapped = _as_httpx_error(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        version = response.version or aiohttp.HttpVersion11
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response, request),
            extensions={
                "http_version": f"HTTP/{version.major}.{version.minor}".encode(),
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether NO_PROXY (`*`, or hosts and domains separated by commas, ports ignored) names this host."""
    host = host.lower().rstrip(".")
    for entry in no_proxy.lower().replace(" ", ",").split(","):
        name = entry.strip().split(":", 1)[0].lstrip(".") if entry.strip() != "*" else "*"
        if name == "*" or (name and (host == name or host.endswith("." + name))):
            return True
    return False


class _ResponseStream(httpx.AsyncByteStream):
    """The answer's body as it arrives; errors while reading it are httpx's, as with httpx's transport."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk
        except Exception as exc:
            mapped = _as_httpx_error(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end, closed otherwise (release() decides).
        self._response.release()


async def _request_chunks(stream: httpx.AsyncByteStream | httpx.SyncByteStream) -> AsyncIterator[bytes]:
    if isinstance(stream, httpx.AsyncByteStream):
        async for chunk in stream:
            yield chunk
    else:
        for chunk in stream:
            yield chunk


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's timeouts of this request in aiohttp's terms.

    aiohttp's `connect` covers waiting for a pooled connection AND making a new one (httpx's pool + connect);
    `sock_connect` the TCP/TLS connect alone; `sock_read` the wait for each piece of the answer (httpx's read).
    aiohttp has no write timeout: the client's bodies are a few form fields.
    """
    timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
    connect = timeouts.get("connect")
    pool = timeouts.get("pool")
    acquire = None if connect is None or pool is None else connect + pool
    return aiohttp.ClientTimeout(total=None, connect=acquire, sock_connect=connect, sock_read=timeouts.get("read"))


def _as_httpx_error(exc: Exception, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx exception that says the same thing, above all whether the request may have been sent.

    The order matters: aiohttp's classes nest (a connector error is an OS error, a connection timeout a server
    timeout), so the "not sent" ones are checked first.
    """
    message = str(exc) or type(exc).__name__
    # Not sent: no connection was ever made for this request.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        # The proxy refused to open the tunnel: counted as sent all the same, to be safe (httpx does so too).
        return httpx.ProxyError(message, request=request)
    # May have been sent: the connection was made, the request (perhaps) written.
    if isinstance(exc, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectionResetError):
        return httpx.WriteError(message, request=request)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return httpx.ReadError(message, request=request)
    return None  # not a transport failure (a bug, a cancelled task): it goes up as it is
