"""Fetching media from the URLs clients give us, without becoming a proxy into our own network (SSRF).

Every connection, redirects included, goes through `GuardedNetworkBackend`: the host is resolved once,
every address it resolves to must be public (not loopback, private, link-local, shared, multicast,
reserved or unspecified, in IPv4 or IPv6, mapped, 6to4 and Teredo forms included), and the socket is
opened to that checked address, so a second DNS answer cannot swap in an internal one. Numeric hosts in
any spelling (`2130706433`, `0x7f.1`, `127.1`, `[::ffff:7f00:1]`) resolve to the address they denote and
are judged by it. Only http and https; at most 3 redirects, each one checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from app.tls import client_ssl_context

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_REDIRECTS = 3


class FetchError(Exception):
    """The media could not be fetched; the message is safe to show to the client."""


class ForbiddenAddress(FetchError):
    """The URL points into a private or otherwise non-public network."""


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the OS resolver, as the connection would use it)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> Iterable[ipaddress.IPv4Address]:
    if address.ipv4_mapped is not None:
        yield address.ipv4_mapped
    if address.sixtofour is not None:
        yield address.sixtofour
    if address.teredo is not None:
        yield from address.teredo
    # IPv4-compatible (::a.b.c.d, deprecated but still routable by some stacks)
    if int(address) >> 32 == 0 and int(address) > 1:
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def is_forbidden_address(address: IPAddress) -> bool:
    """True for any address outside the public internet (or one that embeds such an address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return True
        if any(is_forbidden_address(inner) for inner in _embedded_ipv4(address)):
            return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    )


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and pins the address of every outgoing connection."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver = system_resolve,
        forbidden: Callable[[IPAddress], bool] = is_forbidden_address,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        # Tests swap in a narrower rule so that a loopback server can play a "public" host.
        self._forbidden = forbidden
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._resolve(host.strip("[]"), port)
        except OSError as exc:
            raise FetchError(f"host {host} could not be resolved") from exc
        if not addresses:
            raise FetchError(f"host {host} could not be resolved")
        for raw in addresses:
            address = ipaddress.ip_address(raw.split("%", 1)[0])
            if not self._allow_private and self._forbidden(address):
                raise ForbiddenAddress(f"host {host} resolves to a non-public address")
        return await self._backend.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddress("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool built on the guarded network backend."""

    def __init__(self, backend: GuardedNetworkBackend) -> None:
        # The shared context for httpx's own pool too, which this replaces: otherwise it loads the CA bundle again.
        super().__init__(retries=0, verify=client_ssl_context())
        # httpx builds its pool with the default backend and offers no parameter for another one; the
        # pool is the documented httpcore class, only its construction is replaced (httpx is pinned).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=client_ssl_context(),
            max_connections=20,
            max_keepalive_connections=5,
            network_backend=backend,
        )


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes  # the first `max_bytes` at most
    content_type: str | None
    declared_size: int | None  # Content-Length, when the server sent one
    complete: bool  # False when reading stopped early (head only, for a sniff)


def check_url(url: str, field: str) -> None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError as exc:
        raise FetchError(f"{field} is not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"{field} must be an http or https URL")
    if not parts.hostname:
        raise FetchError(f"{field} must be an absolute URL with a host")


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    field: str,
    max_bytes: int,
    head_only: int | None = None,
) -> Fetched:
    """GET `url` (following up to 3 checked redirects) and read at most `max_bytes`.

    With `head_only`, read only that many bytes (for a sniff) and report the declared size.
    A body larger than `max_bytes` raises FetchError naming the limit.
    """
    check_url(url, field)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            async with client.stream("GET", current, follow_redirects=False) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{field}: the server answered a redirect without a location")
                    current = urljoin(current, location)
                    check_url(current, field)
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"{field} could not be fetched (HTTP {response.status_code})")
                declared = _declared_size(response)
                if declared is not None and declared > max_bytes:
                    if head_only is None:
                        raise FetchError(f"{field} is too large ({_mb(declared)}; the limit is {_mb(max_bytes)})")
                    # Too large by its own account: the caller refuses it from the size, nothing is read.
                    return Fetched(current, b"", response.headers.get("content-type"), declared, complete=False)
                limit = head_only if head_only is not None else max_bytes
                chunks: list[bytes] = []
                total = 0
                complete = True
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > limit:
                        if head_only is None:
                            raise FetchError(f"{field} is too large (the limit is {_mb(max_bytes)})")
                        complete = False
                        break
                body = b"".join(chunks)
                return Fetched(
                    url=current,
                    content=body[:limit] if not complete else body,
                    content_type=response.headers.get("content-type"),
                    declared_size=declared,
                    complete=complete,
                )
        except ForbiddenAddress as exc:
            raise FetchError(f"{field} points to a private or internal address, which is not allowed") from exc
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError(f"{field} could not be fetched: the server did not answer in time") from exc
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ForbiddenAddress):
                raise FetchError(f"{field} points to a private or internal address, which is not allowed") from exc
            if isinstance(cause, FetchError):
                raise FetchError(f"{field} could not be fetched: {cause}") from exc
            raise FetchError(f"{field} could not be fetched ({type(exc).__name__})") from exc
        except (ValueError, UnicodeError, httpx.InvalidURL) as exc:
            # Hosts httpx or IDNA cannot parse (0177.0.0.1, 999.1.1.1, xn--): the URL is the problem.
            raise FetchError(f"{field} is not a valid URL") from exc
        except Exception as exc:  # e.g. an ExceptionGroup from the network layer: never a 500 for a bad URL
            raise FetchError(f"{field} could not be fetched ({type(exc).__name__})") from exc
    raise FetchError(f"{field} could not be fetched: too many redirects")


def _declared_size(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size} bytes"
