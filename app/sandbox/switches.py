"""Switches for tests and benchmarks: latency, injected faults, held calls and the call-usage meter."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from app.sandbox.errors import GraphError

# Endpoint names used by latency, faults and holds.
ENDPOINTS = (
    "authorize",
    "access_token",
    "exchange_token",
    "refresh_token",
    "me",
    "user",
    "media_list",
    "stories",
    "media_create",
    "object_get",
    "children",
    "media_publish",
    "publishing_limit",
    "media_insights",
    "user_insights",
    "subscribed_apps",
    "comments",
    "comment_create",
    "comment_get",
    "comment_replies",
    "reply_create",
    "comment_hide",
    "comment_delete",
)

# The seed document's benchmark table, spread over the calls each operation makes (see docs/sandbox.md).
# `endpoint:VARIANT` entries apply to one kind of container (the `media_type` created or published).
SEED_PROFILE: dict[str, float] = {
    # Authenticate 1.2 s = code exchange + long-lived exchange + /me
    "access_token": 0.45,
    "exchange_token": 0.35,
    "me": 0.4,  # Get Account Info 0.4 s
    "user": 0.4,
    "refresh_token": 0.35,
    # Post Feed 0.8 s = create + status + publish
    "media_create": 0.3,
    "object_get": 0.1,
    "media_publish": 0.4,
    # Post Story 0.6 s
    "media_create:STORIES": 0.2,
    "media_publish:STORIES": 0.3,
    # Post Reel 2.1 s = 0.5 + status polls + 0.5 + video processing (SANDBOX_VIDEO_PROCESSING_SECONDS)
    "media_create:REELS": 0.5,
    "media_publish:REELS": 0.5,
    "media_insights": 0.5,  # Get Insights 0.5 s
    "user_insights": 0.5,
    "media_list": 0.7,  # Get Media (25 items) 0.7 s
    "stories": 0.5,
    "children": 0.2,
    "publishing_limit": 0.1,
}
LATENCY_PROFILES: dict[str, dict[str, float]] = {"none": {}, "seed": SEED_PROFILE}

FaultKind = Literal["error", "throttle", "server_error", "timeout", "response_lost", "container_error"]


def check_endpoint(name: str) -> str:
    """The endpoint name (optionally `endpoint:VARIANT`) if known; ValueError otherwise."""
    endpoint = name.split(":", 1)[0]
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {name!r}; known: {', '.join(ENDPOINTS)}")
    return name


# --- latency --------------------------------------------------------------------------------------


class Latency:
    """Seconds to wait before processing, per endpoint (or `endpoint:VARIANT`)."""

    def __init__(self, profile: str = "none") -> None:
        self.profile = profile
        self.values: dict[str, float] = dict(LATENCY_PROFILES[profile])

    def seconds_for(self, endpoint: str, variant: str | None = None) -> float:
        if variant is not None and f"{endpoint}:{variant}" in self.values:
            return self.values[f"{endpoint}:{variant}"]
        return self.values.get(endpoint, 0.0)

    def use_profile(self, profile: str) -> None:
        if profile not in LATENCY_PROFILES:
            raise ValueError(f"unknown latency profile {profile!r}; known: {', '.join(LATENCY_PROFILES)}")
        self.profile = profile
        self.values = dict(LATENCY_PROFILES[profile])

    def set(self, endpoint: str, seconds: float | None) -> None:
        check_endpoint(endpoint)
        if seconds is None or seconds <= 0:
            self.values.pop(endpoint, None)
        else:
            self.values[endpoint] = seconds
        self.profile = "custom"

    def clear(self) -> None:
        self.profile = "none"
        self.values = {}

    def describe(self) -> dict[str, Any]:
        return {"profile": self.profile, "endpoints": dict(sorted(self.values.items()))}


# --- faults ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Fault:
    """`remaining` more calls to `endpoint` fail (or stall) this way."""

    id: str
    endpoint: str
    kind: FaultKind
    remaining: int
    code: int | None = None
    subcode: int | None = None
    http_status: int | None = None
    message: str | None = None
    is_transient: bool | None = None
    seconds: float = 30.0
    regain_minutes: int | None = 5
    mode: Literal["error", "timeout"] = "error"

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "remaining": self.remaining,
            "code": self.code,
            "subcode": self.subcode,
            "http_status": self.http_status,
            "message": self.message,
            "is_transient": self.is_transient,
            "seconds": self.seconds,
            "regain_minutes": self.regain_minutes,
            "mode": self.mode,
        }

    def as_error(self) -> GraphError:
        """The error answered for kinds error, throttle, server_error (and response_lost in error mode)."""
        if self.kind == "throttle":
            return GraphError(
                self.message
                or "There have been too many calls to this Instagram account. Wait a bit and try again. For "
                "more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                code=self.code or 80002,
                subcode=self.subcode,
                http_status=self.http_status or 400,
                is_transient=True if self.is_transient is None else self.is_transient,
                user_title="Too Many Calls",
                regain_minutes=self.regain_minutes,
            )
        if self.kind == "server_error":
            return GraphError(
                self.message or "An unexpected error has occurred. Please retry your request later.",
                code=self.code or 2,
                subcode=self.subcode,
                http_status=self.http_status or 500,
                is_transient=True if self.is_transient is None else self.is_transient,
                user_title="Service Unavailable",
            )
        if self.kind == "response_lost":
            return GraphError(
                self.message or "An unknown error has occurred.",
                code=self.code or 1,
                subcode=self.subcode,
                http_status=self.http_status or 500,
                is_transient=bool(self.is_transient),
                user_title="Unknown Error",
            )
        return GraphError(
            self.message or "An unknown error has occurred.",
            code=1 if self.code is None else self.code,
            subcode=self.subcode,
            http_status=self.http_status,
            is_transient=bool(self.is_transient),
            error_type="IGApiException" if self.code == 100 and self.subcode == 33 else "OAuthException",
        )


class FaultBook:
    """Faults waiting for their endpoint; the oldest matching one is used first."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def take(self, endpoint: str) -> Fault | None:
        """Use up one call of the first fault for this endpoint (no await: atomic for concurrent calls)."""
        for fault in self.faults:
            if fault.endpoint == endpoint and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self.faults]


def new_fault_id() -> str:
    return "fault-" + secrets.token_hex(4)


# --- holds ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class HeldCall:
    """A call received and waiting for a release before it is processed."""

    id: str
    endpoint: str
    method: str
    path: str
    received_at: str
    released: asyncio.Event = field(default_factory=asyncio.Event)
    aborted: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path,
            "received_at": self.received_at,
        }


class HoldBook:
    """`arm(endpoint, n)`: the next n calls to the endpoint wait until released."""

    def __init__(self) -> None:
        self.armed: dict[str, int] = {}
        self.held: dict[str, HeldCall] = {}

    def arm(self, endpoint: str, count: int) -> None:
        check_endpoint(endpoint)
        self.armed[endpoint] = self.armed.get(endpoint, 0) + count

    def claim(self, endpoint: str, method: str, path: str, received_at: str) -> HeldCall | None:
        """If a hold is armed for the endpoint, register this call as held (no await: atomic)."""
        if self.armed.get(endpoint, 0) <= 0:
            return None
        self.armed[endpoint] -= 1
        if self.armed[endpoint] == 0:
            del self.armed[endpoint]
        call = HeldCall("held-" + secrets.token_hex(4), endpoint, method, path, received_at)
        self.held[call.id] = call
        return call

    async def wait(self, call: HeldCall) -> bool:
        """Wait for the release; False when the sandbox was reset meanwhile."""
        await call.released.wait()
        return not call.aborted

    def release(self, call_id: str | None = None, endpoint: str | None = None) -> list[str]:
        """Release one call (by id), the calls of one endpoint, or all; returns the released ids."""
        chosen = [
            call
            for call in self.held.values()
            if (call_id is None or call.id == call_id) and (endpoint is None or call.endpoint == endpoint)
        ]
        for call in chosen:
            del self.held[call.id]
            call.released.set()
        return [call.id for call in chosen]

    def abort_all(self) -> None:
        self.armed.clear()
        for call in self.held.values():
            call.aborted = True
            call.released.set()
        self.held.clear()

    def describe(self) -> dict[str, Any]:
        return {"armed": dict(self.armed), "held": [call.describe() for call in self.held.values()]}


# --- usage ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """One call's view of the budgets, as the usage headers report it (percentages)."""

    user_id: str | None
    app_percent: int
    user_percent: int
    app_regain_minutes: int
    user_regain_minutes: int

    @property
    def app_exhausted(self) -> bool:
        return self.app_regain_minutes > 0

    @property
    def user_exhausted(self) -> bool:
        return self.user_regain_minutes > 0

    def headers(self, *, throttled: bool = False, throttled_minutes: int | None = None) -> dict[str, str]:
        """`X-App-Usage` and `X-Business-Use-Case-Usage`; a throttled call reports a full budget, with
        `estimated_time_to_regain_access` when `throttled_minutes` is given (a fault may leave it out)."""
        app = {
            "call_count": self.app_percent,
            "total_time": self.app_percent * 3 // 4,
            "total_cputime": self.app_percent // 2,
        }
        headers = {"X-App-Usage": json.dumps(app, separators=(",", ":"))}
        buc: dict[str, list[dict[str, Any]]] = {}
        if self.user_id is not None:
            percent = 100 if throttled else self.user_percent
            entry: dict[str, Any] = {
                "type": "instagram",
                "call_count": percent,
                "total_cputime": percent // 2,
                "total_time": percent * 3 // 4,
            }
            regain = throttled_minutes if throttled else self.user_regain_minutes
            if regain is not None:
                entry["estimated_time_to_regain_access"] = regain
            buc[self.user_id] = [entry]
        headers["X-Business-Use-Case-Usage"] = json.dumps(buc, separators=(",", ":"))
        return headers


class UsageMeter:
    """Calls per app (rolling window) and per app user (rolling window), on the sandbox clock."""

    def __init__(self) -> None:
        self.app_calls: deque[float] = deque()
        self.user_calls: dict[str, deque[float]] = {}

    def record(
        self,
        user_id: str | None,
        now: float,
        *,
        app_budget: int,
        app_window: float,
        user_budget: int,
        user_window: float,
    ) -> Usage:
        """Count one call (throttled calls count too, as on the real API) and report the budgets."""
        app_percent, app_regain = self._count(self.app_calls, now, app_budget, app_window)
        user_percent, user_regain = 0, 0
        if user_id is not None:
            calls = self.user_calls.setdefault(user_id, deque())
            user_percent, user_regain = self._count(calls, now, user_budget, user_window)
        return Usage(user_id, app_percent, user_percent, app_regain, user_regain)

    @staticmethod
    def _count(calls: deque[float], now: float, budget: int, window: float) -> tuple[int, int]:
        while calls and calls[0] <= now - window:
            calls.popleft()
        calls.append(now)
        budget = max(1, budget)
        percent = min(100, len(calls) * 100 // budget)
        if len(calls) <= budget:
            return percent, 0
        # The budget frees up when enough old calls leave the window.
        oldest_needed = calls[len(calls) - budget]
        return percent, max(1, math.ceil((oldest_needed + window - now) / 60))
