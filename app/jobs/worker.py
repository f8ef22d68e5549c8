"""The arq worker's settings: `python -m app worker` runs them under the supervisor (`supervisor.py`), which
keeps the worker running through Redis outages; `arq app.jobs.worker.WorkerSettings` still works, but exits
when Redis goes away, as arq does.

The same job functions the API runs in-process without Redis; `ctx["app"]` is an AppContext built once
in `on_startup`. A heartbeat in Redis tells /readyz the worker is alive and polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob

from app.config import get_settings
from app.context import build_context, settle_after_startup
from app.jobs import registry
from app.jobs.crons import QuietCrons
from app.jobs.heartbeat import HEARTBEAT_INTERVAL_SECONDS, beat
from app.jobs.queue import ArqJobQueue
from app.observability.logging import configure_logging

logger = logging.getLogger(__name__)

# Set by the supervisor while arq's loop is polling (False while it waits for Redis): the heartbeat says
# "polling", not merely "the process is alive".
POLLING = "polling"


async def _heartbeat_loop(ctx: dict[str, Any]) -> None:
    while True:
        if ctx.get(POLLING, True):
            with contextlib.suppress(Exception):
                await beat(ctx["redis"])
        await asyncio.sleep(HEARTBEAT_INTERVAL_SECONDS)


async def on_startup(ctx: dict[str, Any]) -> None:
    """Build the context once: the supervisor runs arq's main loop again after a Redis outage, and arq
    calls this each time."""
    if "app" in ctx:
        return
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    quiet = [spec.name for spec in registry.CRONS if spec.quiet]
    if quiet:
        logging.getLogger("arq.worker").addFilter(QuietCrons(quiet))
    # No in-process sandbox here: in sandbox mode the worker reaches the API's emulator over HTTP.
    ctx["app"] = build_context(settings, jobs=ArqJobQueue(ctx["redis"]), redis=ctx["redis"], role="worker")
    ctx["heartbeat"] = asyncio.create_task(_heartbeat_loop(ctx))
    settle_after_startup(settings)
    logger.info("worker started", extra={"instagram_mode": settings.instagram_mode})


async def on_shutdown(ctx: dict[str, Any]) -> None:
    heartbeat = ctx.get("heartbeat")
    if heartbeat is not None:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    app = ctx.get("app")
    if app is not None:
        await app.aclose()


def _redis_settings() -> RedisSettings:
    settings = get_settings()
    if not settings.redis_url:
        raise SystemExit("REDIS_URL must be set to run the worker (without it the API runs jobs in-process)")
    return RedisSettings.from_dsn(settings.redis_url)


def _crons() -> list[CronJob]:
    return [
        cron(
            spec.function,  # type: ignore[arg-type]
            name=spec.name,
            hour=set(spec.hours) if spec.hours is not None else None,
            minute=set(spec.minutes) if spec.minutes is not None else None,
            second=set(spec.seconds),
            run_at_startup=spec.run_at_startup,
            unique=True,
            max_tries=1,
        )
        for spec in registry.CRONS
    ]


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        func(spec.function, name=spec.name, max_tries=spec.max_tries, keep_result=0)  # type: ignore[arg-type]
        for spec in registry.JOBS
    ]
    cron_jobs: ClassVar[list[CronJob]] = _crons()
    on_startup = on_startup
    on_shutdown = on_shutdown
    redis_settings = _redis_settings()
    job_timeout = get_settings().worker_job_timeout_seconds
    max_jobs = 50
    # arq looks for new jobs this often (its default, 0.5 s, would be most of a webhook's delay).
    poll_delay = 0.1
    # Results are not read by anyone; not keeping them also frees the job id at once for the next run.
    keep_result = 0
    health_check_interval = HEARTBEAT_INTERVAL_SECONDS


__all__ = ["WorkerSettings"]
