"""Loopback-only networking for media and publishing tests: a guard failing any other connect, and a tiny server.

`connect_attempts` (autouse, see conftest.py) wraps httpcore's network backend: it records every TCP connect
the code under test makes and fails the test on the spot for any address that is not loopback.
`LoopbackServer` is a minimal HTTP/1.1 server on 127.0.0.1 that answers `Reply`s by path and records what it
was asked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpcore
import httpx
import pytest

_original_connect_tcp = httpcore.AnyIOBackend.connect_tcp


@pytest.fixture(autouse=True)
def connect_attempts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connect the code under test makes; anything but loopback fails the test on the spot."""
    attempts: list[tuple[str, int]] = []

    async def loopback_only(
        self: httpcore.AnyIOBackend,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        attempts.append((host, port))
        if not ipaddress.ip_address(host.split("%", 1)[0]).is_loopback:
            raise AssertionError(f"the test tried to connect to {host}:{port}, which is not loopback")
        return await _original_connect_tcp(
            self, host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", loopback_only)
    return attempts


@pytest.fixture(scope="module", autouse=True)
def one_tls_context() -> Iterator[None]:
    """Speed only: every transport builds TLS contexts (~20 ms each, CA bundle); no test here speaks TLS."""
    context = httpx.create_ssl_context()

    def reuse(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        return context

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx, "create_ssl_context", reuse)
        patch.setattr("httpx._transports.default.create_ssl_context", reuse)
        yield


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # no Content-Length: the body goes out in chunks
    declared_length: int | None = None  # announce this Content-Length instead of the body's
    stall_before: bool = False  # never answer
    stall_after: bool = False  # send the body, then keep the connection open without finishing


class LoopbackServer:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records what it was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._release = asyncio.Event()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Reply(status, headers={"Location": location})

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        self._release.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                target = line.split()[1].decode()
                host = ""
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "host":
                        host = value.strip()
                self.requests.append((target, host))
                await self._answer(writer, self.routes.get(target, Reply(404, b"not found")))
        except (ConnectionError, IndexError):
            return
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _answer(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        if reply.stall_before:
            await self._release.wait()
            return
        lines = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"]
        lines += [f"{name}: {value}" for name, value in reply.headers.items()]
        if reply.chunked:
            lines.append("Transfer-Encoding: chunked")
        else:
            length = reply.declared_length if reply.declared_length is not None else len(reply.body)
            lines.append(f"Content-Length: {length}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        if reply.chunked:
            for start in range(0, len(reply.body), 4096):
                piece = reply.body[start : start + 4096]
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(reply.body)
        await writer.drain()
        if reply.stall_after:
            await self._release.wait()


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    loopback = LoopbackServer()
    await loopback.start()
    try:
        yield loopback
    finally:
        await loopback.stop()
