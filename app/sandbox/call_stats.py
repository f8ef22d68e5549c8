"""Per-account statistics of Graph calls, for benchmarks: how many calls, and how many at once (`/control/calls`).

Instagram throttles each account on its own, so a benchmark of the insights refresh asks the sandbox how many
calls each account received and the most it had in flight at the same time. Recording is off until
`PUT /control/calls {"recording": true}`; while off, the middleware costs one attribute check per request, so
the latency benchmarks measure the sandbox as it always is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Receive, Scope, Send

from app.sandbox.auth import peek_claims
from app.sandbox.state import Sandbox

ANONYMOUS = "-"  # calls without a well-signed sandbox token
_NAMED_NODES = frozenset({"me", "access_token", "refresh_access_token"})


@dataclass(slots=True)
class AccountCalls:
    """One account's calls since recording started."""

    username: str
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


@dataclass(slots=True)
class CallStats:
    """Counters kept while `recording`; `start()` clears them."""

    recording: bool = False
    since: datetime | None = None
    per_endpoint: dict[str, int] = field(default_factory=dict)
    per_account: dict[str, AccountCalls] = field(default_factory=dict)
    # Token → account, so that each distinct token's signature is checked once, not on every call.
    owners: dict[str, tuple[str, str]] = field(default_factory=dict)

    def start(self) -> None:
        self.recording = True
        self.since = datetime.now(UTC)
        self.per_endpoint = {}
        self.per_account = {}
        self.owners = {}

    def begin(self, owner: tuple[str, str], endpoint: str) -> AccountCalls:
        self.per_endpoint[endpoint] = self.per_endpoint.get(endpoint, 0) + 1
        user_id, username = owner
        account = self.per_account.get(user_id)
        if account is None:
            account = self.per_account[user_id] = AccountCalls(username)
        account.calls += 1
        account.in_flight += 1
        account.max_in_flight = max(account.max_in_flight, account.in_flight)
        return account

    def describe(self) -> dict[str, Any]:
        accounts = sorted(self.per_account.items(), key=lambda item: (-item[1].max_in_flight, -item[1].calls))
        return {
            "recording": self.recording,
            "since": self.since.isoformat() if self.since else None,
            "calls": sum(self.per_endpoint.values()),
            "per_endpoint": dict(sorted(self.per_endpoint.items())),
            "accounts": len(self.per_account),
            "max_in_flight_per_account": max((a.max_in_flight for a in self.per_account.values()), default=0),
            "per_account": [
                {"user_id": user_id, "username": a.username, "calls": a.calls, "max_in_flight": a.max_in_flight}
                for user_id, a in accounts
            ],
        }


def endpoint_label(method: str, graph_path: str) -> str:
    """`GET /{id}/insights`, `POST /{id}/media_publish`, `GET /me`: the call without its ids or version."""
    segments = [s for s in graph_path.split("/") if s]
    if segments and segments[0].startswith("v") and segments[0][1:].replace(".", "").isdigit():
        segments = segments[1:]
    if not segments:
        return f"{method} /"
    node = segments[0] if segments[0] in _NAMED_NODES else "{id}"
    return f"{method} /{node}" + "".join(f"/{s}" for s in segments[1:])


def _token(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() in {"bearer", "oauth"} and credentials.strip():
                return credentials.strip()
    raw_query: bytes = scope.get("query_string", b"")
    tokens = parse_qs(raw_query.decode("latin-1")).get("access_token")
    return tokens[0] if tokens else None


class CallStatsMiddleware:
    """Counts Graph calls per account and endpoint, and each account's calls in flight, while recording."""

    def __init__(self, app: ASGIApp, stats: CallStats, sandbox: Sandbox) -> None:
        self.app = app
        self.stats = stats
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stats = self.stats
        if not stats.recording or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        marker = path.find("/graph/")
        if marker < 0:
            await self.app(scope, receive, send)
            return
        account = stats.begin(self._owner(_token(scope)), endpoint_label(scope["method"], path[marker + 6 :]))
        try:
            await self.app(scope, receive, send)
        finally:
            account.in_flight -= 1

    def _owner(self, token: str | None) -> tuple[str, str]:
        if token is None:
            return ANONYMOUS, ANONYMOUS
        owner = self.stats.owners.get(token)
        if owner is None:
            claims = peek_claims(self.sandbox, token)
            owner = (claims.user_id, claims.username) if claims else (ANONYMOUS, ANONYMOUS)
            self.stats.owners[token] = owner
        return owner


class RecordingSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recording: bool


router = APIRouter(prefix="/control", tags=["control"])


def _stats(request: Request) -> CallStats:
    stats = request.app.state.call_stats
    if not isinstance(stats, CallStats):  # pragma: no cover - wiring error
        raise RuntimeError("the sandbox app was built without call statistics")
    return stats


@router.get("/calls")
async def get_calls(request: Request) -> dict[str, Any]:
    """Graph calls since recording started: per endpoint, per account, and each account's most in flight."""
    return _stats(request).describe()


@router.put("/calls")
async def put_calls(body: RecordingSwitch, request: Request) -> dict[str, Any]:
    """`{"recording": true}` clears the counters and starts counting; `false` stops (the figures stay)."""
    stats = _stats(request)
    if body.recording:
        stats.start()
    else:
        stats.recording = False
    return stats.describe()


def install(app: FastAPI, sandbox: Sandbox) -> None:
    """Add the counting middleware and the `/control/calls` routes to a sandbox app."""
    stats = CallStats()
    app.state.call_stats = stats
    app.add_middleware(CallStatsMiddleware, stats=stats, sandbox=sandbox)
    app.include_router(router)
