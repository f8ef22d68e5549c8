"""The aiohttp transport against a real server on loopback: what reaches the wire, and above all which httpx
error each failure becomes, since the client decides from it whether a request may have reached Instagram.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from app.instagram import InstagramClient, InstagramUnavailable
from app.instagram.transport import AiohttpTransport

from .support import make_config

Handler = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request read off a connection, and the connection to answer on."""

    head: bytes
    body: bytes
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode()

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.decode("latin-1").partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    async def answer(self, body: bytes, *, status: str = "200 OK", headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()


@dataclass
class Server:
    """A tiny HTTP/1.1 server: each request read whole and given to `handler`; what it saw is kept."""

    handler: Handler
    port: int = 0
    requests: list[Exchange] = field(default_factory=list)
    connections: int = 0
    open_connections: int = 0
    most_open: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        self.open_connections += 1
        self.most_open = max(self.most_open, self.open_connections)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                exchange = Exchange(head=head, body=b"", reader=reader, writer=writer)
                length = int(exchange.header("content-length") or 0)
                exchange.body = await reader.readexactly(length) if length else b""
                self.requests.append(exchange)
                await self.handler(exchange)
                if writer.is_closing():
                    return
        finally:
            self.open_connections -= 1
            writer.close()


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        # Handlers still waiting (a server told never to answer) end with the test, not with the event loop.
        for task in server.tasks:
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)


@asynccontextmanager
async def client(
    *, max_connections: int = 10, timeout: httpx.Timeout | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = AiohttpTransport(max_connections=max_connections, keepalive_seconds=5)
    async with httpx.AsyncClient(transport=transport, timeout=timeout or httpx.Timeout(5.0)) as http:
        yield http


async def ok(exchange: Exchange) -> None:
    await exchange.answer(b'{"ok": true}')


async def reset_after_reading(exchange: Exchange) -> None:
    """The request arrived; the connection dies before any answer (RST, not a polite FIN)."""
    sock = exchange.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    exchange.writer.transport.abort()


async def close_after_reading(exchange: Exchange) -> None:
    exchange.writer.close()


async def never_answer(exchange: Exchange) -> None:
    await asyncio.sleep(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- what reaches the wire ------------------------------------------------------------------------------


async def test_request_and_answer_pass_through_unchanged() -> None:
    async def echo(exchange: Exchange) -> None:
        await exchange.answer(b'{"id": "17"}', status="201 Created", headers={"X-App-Usage": '{"call_count":1}'})

    async with serving(echo) as server, client() as http:
        response = await http.post(
            f"{server.url}/v25.0/1/media?fields=a%2Cb&x=%C3%A9", data={"caption": "hé & co"}, headers={"X-One": "1"}
        )
    assert response.status_code == 201
    assert response.json() == {"id": "17"}
    assert response.headers["x-app-usage"] == '{"call_count":1}'
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "Created"
    (seen,) = server.requests
    # The URL as httpx encoded it, not re-quoted; the form body and httpx's headers as they were.
    assert seen.request_line == "POST /v25.0/1/media?fields=a%2Cb&x=%C3%A9 HTTP/1.1"
    assert seen.body == b"caption=h%C3%A9+%26+co"
    assert seen.header("content-type") == "application/x-www-form-urlencoded"
    assert seen.header("x-one") == "1"
    assert seen.header("host") == f"127.0.0.1:{server.port}"


async def test_gzip_answers_are_decoded_once() -> None:
    async def gzipped(exchange: Exchange) -> None:
        await exchange.answer(gzip.compress(b'{"name": "zipped"}'), headers={"Content-Encoding": "gzip"})

    async with serving(gzipped) as server, client() as http:
        response = await http.get(server.url)
    assert response.json() == {"name": "zipped"}


async def test_connections_are_kept_alive_and_reused() -> None:
    async with serving(ok) as server, client() as http:
        for _ in range(5):
            assert (await http.get(server.url)).status_code == 200
    assert server.connections == 1


async def test_answers_stream_as_they_arrive() -> None:
    second_part = asyncio.Event()

    async def chunked(exchange: Exchange) -> None:
        writer = exchange.writer
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await second_part.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    async with serving(chunked) as server, client() as http, http.stream("GET", server.url) as response:
        chunks = response.aiter_raw()
        # The first part is in hand while the server still holds the second back.
        assert await asyncio.wait_for(anext(chunks), 5) == b"first"
        second_part.set()
        assert b"".join([chunk async for chunk in chunks]) == b"second"


async def test_the_pool_never_opens_more_than_its_limit() -> None:
    async def slow(exchange: Exchange) -> None:
        await asyncio.sleep(0.05)
        await exchange.answer(b"{}")

    async with serving(slow) as server, client(max_connections=3) as http:
        answers = await asyncio.gather(*(http.get(server.url) for _ in range(12)))
    assert all(a.status_code == 200 for a in answers)
    assert server.most_open <= 3
    assert len(server.requests) == 12


async def test_a_proxy_from_the_environment_is_used_except_for_no_proxy_hosts() -> None:
    async with serving(ok) as proxy, serving(ok) as direct:
        transport = AiohttpTransport(
            max_connections=2, keepalive_seconds=5, proxies={"http": proxy.url, "no": "localhost"}
        )
        async with httpx.AsyncClient(transport=transport) as http:
            assert (await http.get("http://graph.instagram.test/v25.0/me")).status_code == 200
            assert (await http.get(f"http://localhost:{direct.port}/v25.0/me")).status_code == 200
    # Through the proxy: the absolute URL in the request line; the NO_PROXY host straight.
    assert [r.request_line for r in proxy.requests] == ["GET http://graph.instagram.test/v25.0/me HTTP/1.1"]
    assert [r.request_line for r in direct.requests] == ["GET /v25.0/me HTTP/1.1"]


def test_the_environment_names_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "graph.internal")
    transport = AiohttpTransport(max_connections=1, keepalive_seconds=5)
    assert str(transport._proxy_for(httpx.URL("https://graph.instagram.com/me"))) == "http://proxy.internal:3128"
    assert transport._proxy_for(httpx.URL("https://graph.internal/me")) is None
    assert transport._proxy_for(httpx.URL("https://api.graph.internal/me")) is None
    assert transport._proxy_for(httpx.URL("http://graph.instagram.com/me")) is None  # no HTTP_PROXY
    monkeypatch.setenv("NO_PROXY", "*")
    assert AiohttpTransport(max_connections=1, keepalive_seconds=5)._proxy_for(httpx.URL("https://x.test/")) is None


# --- failures: before the request was sent, or perhaps after ---------------------------------------------


async def test_connection_refused_is_a_connect_error() -> None:
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{free_port()}/")


async def test_no_free_connection_in_time_is_a_connect_timeout() -> None:
    async with serving(never_answer) as server, client(max_connections=1) as http:
        busy = asyncio.create_task(http.get(server.url, timeout=30))
        await asyncio.sleep(0.1)
        # aiohttp bounds the wait for a pooled connection and the connect together: 0.5 + 0.2 s here.
        with pytest.raises(httpx.ConnectTimeout):
            await http.get(server.url, timeout=httpx.Timeout(5.0, connect=0.5, pool=0.2))
        busy.cancel()
    # The waiting request never reached the server.
    assert len(server.requests) == 1


async def test_silence_after_the_request_is_a_read_timeout() -> None:
    async with serving(never_answer) as server, client(timeout=httpx.Timeout(0.3)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(server.url, data={"creation_id": "1"})
    assert len(server.requests) == 1


@pytest.mark.parametrize("handler", [reset_after_reading, close_after_reading], ids=["reset", "closed"])
async def test_a_connection_lost_after_the_post_is_not_a_connect_error(handler: Handler) -> None:
    async with serving(handler) as server, client() as http:
        with pytest.raises(httpx.TransportError) as caught:
            await http.post(server.url, data={"creation_id": "1"})
    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError | httpx.WriteError)
    assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)
    # Exactly one attempt: a POST is never resent by the transport.
    assert len(server.requests) == 1


async def test_a_body_cut_short_is_a_protocol_error() -> None:
    async def truncated(exchange: Exchange) -> None:
        exchange.writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial":')
        await exchange.writer.drain()
        exchange.writer.close()

    async with serving(truncated) as server, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(server.url)


async def test_a_closed_transport_refuses_work() -> None:
    transport = AiohttpTransport(max_connections=1, keepalive_seconds=5)
    await transport.aclose()
    with pytest.raises(RuntimeError):
        await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:1/"))


# --- the Instagram client on this transport --------------------------------------------------------------


def _client(server_url: str, **config: object) -> InstagramClient:
    async def no_sleep(_: float) -> None:
        return None

    # No transport given: the client builds its own aiohttp one, as in production.
    settings = {"graph_base_url": server_url, "token_base_url": server_url, "timeout_seconds": 1.0, **config}
    return InstagramClient(make_config(**settings), sleep=no_sleep, random=lambda: 0.0)


async def test_the_client_reads_through_the_transport() -> None:
    async def profile(exchange: Exchange) -> None:
        await exchange.answer(b'{"user_id": "17841", "username": "john_doe", "id": "17841"}')

    async with serving(profile) as server, _client(server.url) as ig:
        found = await ig.get_user("IGAAtoken", "17841")
    assert found.username == "john_doe"
    assert server.requests[0].header("authorization") == "Bearer IGAAtoken"


async def test_media_publish_is_never_retried_once_the_request_may_have_arrived() -> None:
    async with serving(close_after_reading) as server, _client(server.url) as ig:
        with pytest.raises(InstagramUnavailable) as caught:
            await ig.publish_container("IGAAtoken", "17841", "creation-1")
    assert caught.value.request_sent is True
    assert len(server.requests) == 1


async def test_a_refused_connection_is_known_not_to_have_reached_instagram() -> None:
    async with _client(f"http://127.0.0.1:{free_port()}") as ig:
        with pytest.raises(InstagramUnavailable) as caught:
            await ig.get_user("IGAAtoken", "17841")
    assert caught.value.request_sent is False
