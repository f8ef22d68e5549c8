"""`python -m app serve`: the API under uvicorn, in as many processes as WEB_CONCURRENCY says.

One process serves one core: the API spends CPU on every request (JSON, JWT, the database driver), so a
machine with N cores serves about N times more with N processes. They share the listening socket (uvicorn's
supervisor forks them and restarts one that dies), and share nothing else: so more than one needs Redis, where
the background jobs of every process meet (without REDIS_URL, jobs run inside the one API process).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from typing import Any, Literal

from app.config import ConfigurationError, Settings

logger = logging.getLogger(__name__)


def available_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if count is not None:
        return int(count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ServePlan:
    """How the API is served: where, in how many processes, with which uvicorn options."""

    host: str
    port: int
    workers: int
    # uvloop when installed; asyncio's own loop for the embedded SQLite mode (see `plan`).
    event_loop: Literal["auto", "asyncio"] = "auto"

    def uvicorn_options(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "workers": self.workers,
            # Nothing is served over WebSocket: don't load a WebSocket library in every process.
            "ws": "none",
            # C parsers and event loop when installed (uvicorn[standard]); uvicorn's pure-Python ones otherwise.
            "loop": "uvloop" if self.event_loop == "auto" and _installed("uvloop") else "asyncio",
            "http": "httptools" if _installed("httptools") else "h11",
            "lifespan": "on",
            # Behind a proxy: the client's scheme and address from X-Forwarded-*, trusted from the addresses in
            # FORWARDED_ALLOW_IPS (uvicorn reads it; 127.0.0.1 by default, the image sets "*").
            "proxy_headers": True,
            # The service writes its own access line (with the request id and the route template), and its
            # logging is set up by the app: uvicorn's own configuration would replace it.
            "access_log": False,
            "log_config": None,
        }


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def plan(settings: Settings) -> ServePlan:
    """The plan for these settings; ConfigurationError (naming the variable) when it cannot work."""
    workers = settings.web_concurrency
    if workers is None:
        # Unset: one process per core when they can share the jobs; the embedded mode is one process.
        workers = available_cores() if settings.redis_url and not settings.is_sandbox else 1
    elif workers > 1 and not settings.redis_url:
        raise ConfigurationError(
            f"WEB_CONCURRENCY={workers} needs REDIS_URL: without Redis the background jobs run inside the one "
            "API process and cannot be shared; set REDIS_URL (and run `python -m app worker`) or WEB_CONCURRENCY=1"
        )
    elif workers > 1 and settings.is_sandbox:
        raise ConfigurationError(
            f"WEB_CONCURRENCY={workers} with INSTAGRAM_MODE=sandbox: the built-in emulator keeps its state in each "
            "process's memory; serve it with WEB_CONCURRENCY=1"
        )
    # On SQLite the hot reads run in the event loop's thread (app/direct_reads.py `SqliteReader`). Served so, at
    # 50 clients uvloop left a few requests waiting 200-450 ms (p99 100-200 ms) while asyncio's loop answered every
    # one within 35 ms, as fast on average (2,800 req/s): the embedded default takes asyncio's.
    return ServePlan(
        host=settings.host, port=settings.port, workers=workers, event_loop="asyncio" if settings.is_sqlite else "auto"
    )


def serve(settings: Settings) -> int:
    """Run uvicorn until it is stopped (SIGINT/SIGTERM stop every process gracefully)."""
    import uvicorn

    from app.observability.logging import configure_logging

    serve_plan = plan(settings)
    configure_logging(settings.log_level, settings.log_json)
    logger.info(
        "serving the API",
        extra={"host": serve_plan.host, "port": serve_plan.port, "processes": serve_plan.workers},
    )
    # An import string, so that each worker process builds the app itself.
    uvicorn.run("app.main:app", **serve_plan.uvicorn_options())
    return 0
