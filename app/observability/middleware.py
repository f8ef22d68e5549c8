"""One pure ASGI middleware: a request id for every request, the access log line, and HTTP metrics.

Pure ASGI (not BaseHTTPMiddleware) so that it neither buffers responses nor breaks cancellation.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import time
from typing import Any

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.context import reset_request_id, set_request_id
from app.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from app.outages import as_unavailable

logger = logging.getLogger("app.access")
_ACCESS_FORMAT = "%s %s %s %.1fms"

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._\-]{1,128}$")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _new_request_id() -> str:
    """32 hex digits, like a UUID4's, from the process's Mersenne Twister (seeded from the OS at start-up): a
    request id must be unique, not secret, and `uuid4()` asks the kernel for randomness on every request (a
    system call, about 5 % of GET /accounts' CPU)."""
    return f"{random.getrandbits(128):032x}"


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        # A mounted app (the sandbox, static files) reports its mount path only.
        return path if getattr(route, "routes", None) is None else f"{path}/*"
    # Starlette's plain routes (FastAPI's own /openapi.json) put only their endpoint in the scope.
    endpoint = scope.get("endpoint")
    if endpoint is not None and "app" in scope:
        return _plain_route_paths(scope["app"]).get(endpoint, "unmatched")
    return "unmatched"


@functools.lru_cache(maxsize=8)
def _plain_route_paths(app: Any) -> dict[Any, str]:
    """Each plain route's endpoint and path template, read once per app (routes are fixed once it serves)."""
    routes = getattr(getattr(app, "router", None), "routes", [])
    return {route.endpoint: route.path for route in routes if type(route) is Route}


class _RouteMetrics:
    """The Prometheus children of each (method, route template, status), looked up once: `labels()` takes a lock
    and builds its key on every call. As bounded as Prometheus's own series (one per combination seen)."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, method: str, route: str, status: int, elapsed: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(method, route))
            self._children[key] = children
        requests, latency = children
        requests.inc()
        latency.observe(elapsed)


_METRICS = _RouteMetrics()


def _log_access(method: str, route: str, status: int, elapsed: float) -> None:
    """The access line, built without `Logger.info`'s caller lookup (a stack walk) or its `extra` dict copy; nothing
    at all is built when INFO is off. Handlers and filters see the same record as before."""
    if not logger.isEnabledFor(logging.INFO):
        return
    duration_ms = elapsed * 1000
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, _ACCESS_FORMAT, (method, route, status, duration_ms), None
    )
    record.__dict__.update(method=method, route=route, status=status, duration_ms=round(duration_ms, 1))
    logger.handle(record)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = b""
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                incoming = value  # the last one wins, as before
        request_id = incoming.decode("latin-1") if _VALID_REQUEST_ID.match(incoming) else _new_request_id()
        token = set_request_id(request_id)
        status = 500
        started = time.perf_counter()
        started_response = False

        # One wrapper around `send` (every message of every response passes through it).
        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # The one place an unexpected error becomes an answer. A lost or refused database or Redis
            # connection is no bug: 503 with Retry-After (app/outages.py), logged without a traceback.
            unavailable = as_unavailable(exc)
            if unavailable is not None:
                logger.warning(
                    "dependency unavailable",
                    extra={"method": scope.get("method"), "path": scope.get("path"), "error": repr(exc)[:300]},
                )
            else:
                # Logged with its traceback and the request id, answered with the envelope and the id
                # (so support can find the log line).
                logger.error(
                    "unhandled error",
                    exc_info=exc,
                    extra={"method": scope.get("method"), "path": scope.get("path")},
                )
            if started_response:
                raise
            status_code, payload, extra_headers = 500, {"error": "Internal server error", "code": "internal_error"}, {}
            if unavailable is not None:
                status_code, payload, extra_headers = 503, unavailable.body(), unavailable.headers
            body = json.dumps({**payload, "request_id": request_id}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            headers += [(name.lower().encode(), value.encode()) for name, value in extra_headers.items()]
            await send_with_id({"type": "http.response.start", "status": status_code, "headers": headers})
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "GET")
            _METRICS.record(method, route, status, elapsed)
            if scope.get("path") not in _QUIET_PATHS:
                _log_access(method, route, status, elapsed)
            reset_request_id(token)
