"""Operability endpoints: liveness, readiness and Prometheus metrics (no authentication)."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.config import Settings
from app.dependencies import ContextDep, SettingsDep
from app.errors import ErrorResponse, Unauthorized
from app.jobs.heartbeat import HEARTBEAT_KEY, HEARTBEAT_STALE_SECONDS
from app.observability.metrics import WORKER_HEARTBEAT, render_metrics

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz", summary="Liveness: the process is up", response_model=Health)
async def healthz() -> Health:
    """Answers 200 as long as the process can serve a request."""
    return Health(status="ok")


async def _check_database(ctx: ContextDep) -> str:
    async with ctx.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return "ok"


async def _check_redis(ctx: ContextDep) -> str:
    assert ctx.redis is not None
    await ctx.redis.ping()
    return "ok"


async def _worker_state(ctx: ContextDep) -> str:
    if ctx.redis is None:
        return "in-process"
    raw = await ctx.redis.get(HEARTBEAT_KEY)
    if raw is None:
        return "no heartbeat"
    beat = float(raw)
    WORKER_HEARTBEAT.set(beat)
    age = time.time() - beat
    return "ok" if age < HEARTBEAT_STALE_SECONDS else f"stale ({int(age)} s since the last heartbeat)"


async def _run_check(name: str, check: Any, ctx: ContextDep) -> tuple[str, str]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return name, await check(ctx)
    except TimeoutError:
        return name, "down (timed out)"
    except Exception as exc:
        return name, f"down ({type(exc).__name__})"


@router.get(
    "/readyz",
    summary="Readiness: database and Redis reachable",
    response_model=Readiness,
    responses={
        503: {
            "description": "A dependency is down; the body names it.",
            "content": {
                "application/json": {
                    "example": {
                        "error": "Not ready: database is down",
                        "status": "unavailable",
                        "checks": {"database": "down (OSError)", "redis": "ok", "worker": "ok"},
                    }
                }
            },
        }
    },
)
async def readyz(ctx: ContextDep) -> Response:
    """200 when the database (and Redis, when configured) answer; 503 naming what is down.

    The worker's heartbeat is reported too, but does not fail readiness: the API can still serve
    reads and accept posts while the worker restarts (scheduled posts wait safely in the database).
    """
    checks: list[Any] = [_run_check("database", _check_database, ctx)]
    if ctx.redis is not None:
        checks.append(_run_check("redis", _check_redis, ctx))
    results = dict(await asyncio.gather(*checks))
    try:
        results["worker"] = await _worker_state(ctx) if results.get("redis", "ok") == "ok" else "unknown"
    except Exception:
        results["worker"] = "unknown"
    down = [name for name, state in results.items() if name != "worker" and state != "ok"]
    if down:
        body = {
            "error": f"Not ready: {' and '.join(down)} {'is' if len(down) == 1 else 'are'} down",
            "status": "unavailable",
            "checks": results,
        }
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "checks": results})


def _metrics_allowed(settings: Settings, authorization: str | None) -> bool:
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    # compare_digest: the time taken says nothing about how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {
            "model": ErrorResponse,
            "description": "METRICS_TOKEN is set and the request did not send it as a Bearer token",
        },
    },
)
async def metrics(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Requests by route template and status, latencies, Instagram calls, publishing outcomes, jobs.
    With METRICS_TOKEN set, send `Authorization: Bearer <METRICS_TOKEN>`."""
    if not _metrics_allowed(settings, authorization):
        raise Unauthorized("/metrics needs Authorization: Bearer <METRICS_TOKEN>", code="unauthorized")
    payload, content_type = render_metrics()
    return Response(payload, media_type=content_type)
