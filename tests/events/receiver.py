"""A real webhook receiver on loopback: an HTTP/1.1 server (keep-alive, as httpx pools connections) that
verifies every request's signature with `standardwebhooks` against the secrets it is given, and can answer
errors, hold its answers, or go down and come back on the same port."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receipt:
    headers: dict[str, str]
    body: str
    received_at: float  # time.time()
    verified_by: list[str]  # the secrets (of those the receiver knows) that verify the signature

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def type(self) -> str:
        return str(self.payload["type"])


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    status: int = 200
    # Answer this status to the payloads the rule picks (others get `status`).
    reject: Callable[[dict[str, Any]], bool] | None = None
    hold: bool = False  # keep requests unanswered until release()
    receipts: list[Receipt] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _connections: set[asyncio.StreamWriter] = field(default_factory=set)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Down: connections refused from now on, open ones cut."""
        self._released.set()
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def release(self) -> None:
        self.hold = False
        self._released.set()

    def of_type(self, event_type: str) -> list[Receipt]:
        return [r for r in self.receipts if r.type == event_type]

    def unique(self) -> dict[str, Receipt]:
        """One receipt per event id (the first), as a deduplicating receiver keeps them."""
        seen: dict[str, Receipt] = {}
        for receipt in self.receipts:
            seen.setdefault(receipt.id, receipt)
        return seen

    async def wait_for(self, predicate: Callable[[list[Receipt]], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.receipts):
            if time.monotonic() > deadline:
                summary = [(r.type, r.payload["data"]) for r in self.receipts]
                raise AssertionError(f"the receiver did not get what was expected; it has {summary}")
            await asyncio.sleep(0.05)

    def _verify(self, body: str, headers: dict[str, str]) -> list[str]:
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(secret)
        return verified

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = (await reader.readexactly(int(headers.get("content-length", "0")))).decode()
                receipt = Receipt(headers, body, time.time(), self._verify(body, headers))
                self.receipts.append(receipt)
                if self.hold:
                    self._released.clear()
                    await self._released.wait()
                    if self._server is None:
                        return
                status = self.status
                if self.reject is not None and self.reject(receipt.payload):
                    status = 500
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._connections.discard(writer)
            writer.close()
