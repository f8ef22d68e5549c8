"""The SSRF guard: which addresses are forbidden, the guarded backend and transport, and `fetch`'s checks.

Private ranges are tested with name resolution faked (a `resolve` coroutine) or with pure calls; the only real
connections go to a tiny HTTP server on 127.0.0.1. An autouse fixture wraps httpcore's network backend, records
every connect and fails the test on any address that is not loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.media.fetch import (
    MAX_REDIRECTS,
    FetchError,
    ForbiddenAddress,
    GuardedNetworkBackend,
    GuardedTransport,
    IPAddress,
    Resolver,
    check_url,
    fetch,
    is_forbidden_address,
    system_resolve,
)
from tests.media.loopback import LoopbackServer, Reply

PRIVATE_OR_INTERNAL = "image_url points to a private or internal address, which is not allowed"
TEN = ipaddress.ip_network("10.0.0.0/8")


def only_ten_is_forbidden(address: IPAddress) -> bool:
    """A narrower rule for tests: loopback plays a "public" host, 10.0.0.0/8 stays internal."""
    return address in TEN


class FakeResolver:
    """Answers from a table and records what it was asked; unknown names do not resolve."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


async def never_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should never have been resolved")


# --- the loopback-only guard, and a tiny HTTP server ----------------------------------------------


@asynccontextmanager
async def guarded_client(
    *, allow_private: bool = False, resolve: Resolver = system_resolve, forbidden: Any = is_forbidden_address
) -> AsyncIterator[httpx.AsyncClient]:
    transport = GuardedTransport(
        GuardedNetworkBackend(allow_private=allow_private, resolve=resolve, forbidden=forbidden)
    )
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        yield client


# --- is_forbidden_address -------------------------------------------------------------------------

TEREDO_OF_10_0_0_1 = "2001:0:4136:e378:8000:63bf:f5ff:fffe"  # client 10.0.0.1 (stored inverted)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (CGNAT)
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",  # noqa: S104 - an address under test, nothing binds to it
        "0.1.2.3",
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:0a00:0001::",  # 6to4 of 10.0.0.1
        "2002:7f00:0001::1",  # 6to4 of 127.0.0.1
        TEREDO_OF_10_0_0_1,
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "fe80::1%eth0",  # with a scope
        "2606:4700:4700::1111%2",  # a scoped address, even a global one
    ],
)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2002:0808:0808::"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is False


def test_the_teredo_address_under_test_really_embeds_10_0_0_1() -> None:
    teredo = ipaddress.IPv6Address(TEREDO_OF_10_0_0_1).teredo
    assert teredo is not None
    assert teredo[1] == ipaddress.IPv4Address("10.0.0.1")


# --- GuardedNetworkBackend ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "addresses",
    [
        ["93.184.216.34", "10.0.0.1"],
        ["10.0.0.1", "93.184.216.34"],
        ["8.8.8.8", "1.1.1.1", "169.254.169.254"],
        ["2606:4700:4700::1111", "::ffff:127.0.0.1"],
        ["93.184.216.34", "fe80::1%eth0"],
        ["8.8.8.8", "::1"],
    ],
)
async def test_the_backend_refuses_a_host_with_any_private_address(
    addresses: list[str], connect_attempts: list[tuple[str, int]]
) -> None:
    resolver = FakeResolver({"mixed.test": addresses})
    backend = GuardedNetworkBackend(allow_private=False, resolve=resolver)

    with pytest.raises(ForbiddenAddress, match="non-public"):
        await backend.connect_tcp("mixed.test", 443)

    assert resolver.asked == [("mixed.test", 443)]
    assert connect_attempts == []


async def test_the_backend_strips_ipv6_brackets_before_resolving(connect_attempts: list[tuple[str, int]]) -> None:
    resolver = FakeResolver({"::1": ["::1"]})
    backend = GuardedNetworkBackend(allow_private=False, resolve=resolver)
    with pytest.raises(ForbiddenAddress):
        await backend.connect_tcp("[::1]", 80)
    assert resolver.asked == [("::1", 80)]
    assert connect_attempts == []


@pytest.mark.parametrize("answer", [None, []], ids=["gaierror", "no-addresses"])
async def test_an_unresolvable_host_is_a_fetch_error(
    answer: list[str] | None, connect_attempts: list[tuple[str, int]]
) -> None:
    resolver = FakeResolver({} if answer is None else {"nowhere.test": answer})
    backend = GuardedNetworkBackend(allow_private=False, resolve=resolver)

    with pytest.raises(FetchError) as caught:
        await backend.connect_tcp("nowhere.test", 80)

    assert not isinstance(caught.value, ForbiddenAddress)
    assert str(caught.value) == "host nowhere.test could not be resolved"
    assert connect_attempts == []


async def test_an_unresolvable_host_through_fetch_is_a_fetch_error() -> None:
    async with guarded_client(resolve=FakeResolver()) as client:
        with pytest.raises(FetchError, match="could not be resolved"):
            await fetch(client, "http://nowhere.test/a.jpg", field="image_url", max_bytes=1024)


async def test_the_backend_refuses_unix_sockets() -> None:
    backend = GuardedNetworkBackend(allow_private=True, resolve=never_resolve)
    with pytest.raises(ForbiddenAddress):
        await backend.connect_unix_socket("/var/run/docker.sock")


async def test_the_backend_connects_to_loopback_when_private_hosts_are_allowed(
    server: LoopbackServer, connect_attempts: list[tuple[str, int]]
) -> None:
    resolver = FakeResolver({"dev.test": ["127.0.0.1"]})
    backend = GuardedNetworkBackend(allow_private=True, resolve=resolver)

    stream = await backend.connect_tcp("dev.test", server.port, timeout=5.0)
    await stream.aclose()

    assert connect_attempts == [("127.0.0.1", server.port)]


async def test_the_connection_goes_to_the_address_that_was_checked(
    server: LoopbackServer, connect_attempts: list[tuple[str, int]]
) -> None:
    """Resolved once and pinned: the socket is opened to the checked IP, the Host header keeps the name."""
    server.routes["/a.jpg"] = Reply(200, b"jpeg-bytes", headers={"Content-Type": "image/jpeg"})
    resolver = FakeResolver({"public.test": ["127.0.0.1"]})

    async with guarded_client(resolve=resolver, forbidden=only_ten_is_forbidden) as client:
        fetched = await fetch(client, f"http://public.test:{server.port}/a.jpg", field="image_url", max_bytes=1024)

    assert fetched.content == b"jpeg-bytes"
    assert resolver.asked == [("public.test", server.port)]
    assert connect_attempts == [("127.0.0.1", server.port)]
    assert server.requests == [("/a.jpg", f"public.test:{server.port}")]


# --- fetch through GuardedTransport: loopback in every spelling -----------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/a.jpg",
        "https://127.0.0.1:{port}/a.jpg",
        "http://localhost:{port}/a.jpg",
        "http://2130706433/a.jpg",  # decimal
        "http://2130706433:{port}/a.jpg",
        "http://0x7f.1/a.jpg",  # hex, short form
        "http://0x7f000001:{port}/a.jpg",
        "http://127.1/a.jpg",  # short form
        "http://127.1:{port}/a.jpg",
        "http://0/a.jpg",  # 0.0.0.0
        "http://[::1]:{port}/a.jpg",
        "http://[::ffff:127.0.0.1]:{port}/a.jpg",
        "http://[::ffff:7f00:1]:{port}/a.jpg",
        "http://[::127.0.0.1]:{port}/a.jpg",
    ],
)
async def test_loopback_in_any_spelling_is_refused_before_connecting(
    template: str, server: LoopbackServer, connect_attempts: list[tuple[str, int]]
) -> None:
    server.routes["/a.jpg"] = Reply(200, b"secret")
    url = template.format(port=server.port)

    async with guarded_client() as client:
        with pytest.raises(FetchError) as caught:
            await fetch(client, url, field="image_url", max_bytes=1024)

    assert str(caught.value) == PRIVATE_OR_INTERNAL
    assert isinstance(caught.value.__cause__, ForbiddenAddress)
    assert connect_attempts == []
    assert server.connections == 0
    assert server.requests == []


async def test_allow_private_lets_a_loopback_fetch_through(
    server: LoopbackServer, connect_attempts: list[tuple[str, int]]
) -> None:
    server.routes["/a.jpg"] = Reply(200, b"x" * 1000, headers={"Content-Type": "image/jpeg"})

    async with guarded_client(allow_private=True) as client:
        fetched = await fetch(client, f"http://127.0.0.1:{server.port}/a.jpg", field="image_url", max_bytes=4096)

    assert fetched.content == b"x" * 1000
    assert fetched.content_type == "image/jpeg"
    assert fetched.declared_size == 1000
    assert fetched.complete is True
    assert fetched.url == f"http://127.0.0.1:{server.port}/a.jpg"
    assert server.paths == ["/a.jpg"]
    assert connect_attempts == [("127.0.0.1", server.port)]


async def test_head_only_reads_the_first_bytes_and_reports_the_declared_size(server: LoopbackServer) -> None:
    server.routes["/clip.mp4"] = Reply(200, bytes(range(256)) * 400)

    async with guarded_client(allow_private=True) as client:
        fetched = await fetch(
            client, f"http://127.0.0.1:{server.port}/clip.mp4", field="video_url", max_bytes=10**6, head_only=100
        )
        too_large = await fetch(
            client, f"http://127.0.0.1:{server.port}/clip.mp4", field="video_url", max_bytes=50, head_only=100
        )

    assert fetched.content == (bytes(range(256)) * 400)[:100]
    assert fetched.declared_size == 256 * 400
    assert fetched.complete is False
    # Declared over the limit: nothing is read, the caller refuses it from its size.
    assert (too_large.content, too_large.declared_size, too_large.complete) == (b"", 256 * 400, False)


# --- check_url ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_GET",
        "dict://127.0.0.1:11211/stats",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "//example.com/a.jpg",
        "example.com/a.jpg",
        "",
    ],
)
def test_check_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, "image_url")
    assert str(caught.value) == "image_url must be an http or https URL"


@pytest.mark.parametrize("url", ["http:///a.jpg", "http://", "https://:443/a.jpg", "http://user@/a.jpg"])
def test_check_url_refuses_hostless_urls(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, "image_url")
    assert str(caught.value) == "image_url must be an absolute URL with a host"


@pytest.mark.parametrize("url", ["http://example.com/a.jpg", "HTTPS://Example.com:8443/a.jpg?x=1"])
def test_check_url_accepts_absolute_http_urls(url: str) -> None:
    check_url(url, "image_url")


async def test_fetch_checks_the_url_before_anything_else(connect_attempts: list[tuple[str, int]]) -> None:
    async with guarded_client(resolve=never_resolve) as client:
        with pytest.raises(FetchError, match="must be an http or https URL"):
            await fetch(client, "file:///etc/passwd", field="image_url", max_bytes=1024)
    assert connect_attempts == []


# --- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_public_host_redirecting_to_an_internal_one_is_refused(
    status: int, server: LoopbackServer, connect_attempts: list[tuple[str, int]]
) -> None:
    internal = f"http://internal.test:{server.port}/secret"
    server.redirect("/start", internal, status)
    server.routes["/secret"] = Reply(200, b"metadata credentials")
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]})

    async with guarded_client(resolve=resolver, forbidden=only_ten_is_forbidden) as client:
        with pytest.raises(FetchError) as caught:
            await fetch(client, f"http://public.test:{server.port}/start", field="image_url", max_bytes=1024)

    assert str(caught.value) == PRIVATE_OR_INTERNAL
    assert ("internal.test", server.port) in resolver.asked
    assert server.paths == ["/start"]
    assert connect_attempts == [("127.0.0.1", server.port)]
    assert not any(ipaddress.ip_address(host) in TEN for host, _ in connect_attempts)


async def test_a_redirect_to_a_literal_internal_address_is_refused(
    server: LoopbackServer, connect_attempts: list[tuple[str, int]]
) -> None:
    server.redirect("/start", "http://10.0.0.5/secret")
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "10.0.0.5": ["10.0.0.5"]})

    async with guarded_client(resolve=resolver, forbidden=only_ten_is_forbidden) as client:
        with pytest.raises(FetchError) as caught:
            await fetch(client, f"http://public.test:{server.port}/start", field="image_url", max_bytes=1024)

    assert str(caught.value) == PRIVATE_OR_INTERNAL
    assert connect_attempts == [("127.0.0.1", server.port)]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://example.com/a"])
async def test_a_redirect_to_another_scheme_is_refused(location: str, server: LoopbackServer) -> None:
    server.redirect("/start", location)
    async with guarded_client(allow_private=True) as client:
        with pytest.raises(FetchError) as caught:
            await fetch(client, f"http://127.0.0.1:{server.port}/start", field="image_url", max_bytes=1024)
    assert str(caught.value) == "image_url must be an http or https URL"
    assert server.paths == ["/start"]


async def test_a_redirect_without_a_location_is_refused(server: LoopbackServer) -> None:
    server.routes["/start"] = Reply(302)
    async with guarded_client(allow_private=True) as client:
        with pytest.raises(FetchError, match="redirect without a location"):
            await fetch(client, f"http://127.0.0.1:{server.port}/start", field="image_url", max_bytes=1024)


def _chain(server: LoopbackServer) -> None:
    """/r1 -> /r2 -> /r3 -> /r4 -> /final (relative and absolute locations mixed)."""
    server.redirect("/r1", "/r2")
    server.redirect("/r2", f"http://127.0.0.1:{server.port}/r3", 301)
    server.redirect("/r3", "r4", 307)
    server.redirect("/r4", "/final", 308)
    server.routes["/final"] = Reply(200, b"done")


async def test_three_redirects_are_followed(server: LoopbackServer) -> None:
    _chain(server)
    async with guarded_client(allow_private=True) as client:
        fetched = await fetch(client, f"http://127.0.0.1:{server.port}/r2", field="image_url", max_bytes=1024)
    assert fetched.content == b"done"
    assert fetched.url == f"http://127.0.0.1:{server.port}/final"
    assert server.paths == ["/r2", "/r3", "/r4", "/final"]


async def test_more_than_three_redirects_are_too_many(server: LoopbackServer) -> None:
    _chain(server)
    async with guarded_client(allow_private=True) as client:
        with pytest.raises(FetchError) as caught:
            await fetch(client, f"http://127.0.0.1:{server.port}/r1", field="image_url", max_bytes=1024)
    assert str(caught.value) == "image_url could not be fetched: too many redirects"
    assert server.paths == ["/r1", "/r2", "/r3", "/r4"]
    assert MAX_REDIRECTS == 3


async def test_a_redirect_loop_is_too_many_redirects(server: LoopbackServer) -> None:
    server.redirect("/loop", "/loop")
    async with guarded_client(allow_private=True) as client:
        with pytest.raises(FetchError, match="too many redirects"):
            await fetch(client, f"http://127.0.0.1:{server.port}/loop", field="image_url", max_bytes=1024)
    assert server.paths == ["/loop"] * (MAX_REDIRECTS + 1)


# --- malformed URLs must still end as FetchError --------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(
            "http://[::1/a.jpg",
            id="unclosed-ipv6-bracket",
        ),
        pytest.param(
            "http://0177.0.0.1/a.jpg",
            id="octal-dotted-quad",
        ),
        pytest.param(
            "http://999.1.1.1/a.jpg",
            id="out-of-range-dotted-quad",
        ),
        pytest.param(
            "http://xn--/a.jpg",
            id="bad-idna-label",
        ),
    ],
)
async def test_a_malformed_url_is_a_fetch_error(url: str, connect_attempts: list[tuple[str, int]]) -> None:
    async with guarded_client(resolve=never_resolve) as client:
        with pytest.raises(FetchError):
            await fetch(client, url, field="image_url", max_bytes=1024)
    assert connect_attempts == []


async def test_an_out_of_range_port_is_a_fetch_error() -> None:
    resolver = FakeResolver({"public.test": ["127.0.0.1"]})
    async with guarded_client(resolve=resolver, forbidden=only_ten_is_forbidden) as client:
        with pytest.raises(FetchError):
            await fetch(client, "http://public.test:99999/a.jpg", field="image_url", max_bytes=1024)


async def test_a_malformed_redirect_location_is_a_fetch_error(server: LoopbackServer) -> None:
    """httpx parses the Location itself (to build `next_request`) and fails first, as an HTTPError."""
    server.redirect("/start", "http://[::1/secret")
    async with guarded_client(allow_private=True) as client:
        with pytest.raises(FetchError, match=r"^image_url could not be fetched"):
            await fetch(client, f"http://127.0.0.1:{server.port}/start", field="image_url", max_bytes=1024)
    assert server.paths == ["/start"]
