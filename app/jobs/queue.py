"""The job queue: one set of job functions, run by the arq worker or, without Redis, in-process.

Job functions have arq's signature, `async def job(ctx: dict[str, Any], *args) -> Any`, may raise
`arq.Retry(defer=...)` to run again later, and must be idempotent (arq may run a job more than once).
`ctx["app"]` is the process's `AppContext`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from arq import ArqRedis, Retry
from arq.constants import in_progress_key_prefix
from arq.jobs import Job

from app.jobs.crons import CronSpec, JobFunction
from app.observability.metrics import JOBS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """A job function and how often it may be tried (Retry counts as a try, as in arq)."""

    function: JobFunction
    max_tries: int = 5
    timeout_seconds: float | None = None

    @property
    def name(self) -> str:
        return self.function.__name__


class JobQueue(Protocol):
    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_until: datetime | None = None
    ) -> bool:
        """Ask for `function(*args)`; False when a job with this id is already queued or running."""
        ...

    async def release(self, job_id: str) -> bool:
        """Forget that the job with this id is running (its runner is known to be dead), so that, still
        queued, it runs again now; False when it was not marked running."""
        ...

    async def aclose(self) -> None: ...


class ArqJobQueue:
    """Jobs go to Redis; the arq worker process runs them."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_until: datetime | None = None
    ) -> bool:
        job: Job | None = await self.redis.enqueue_job(function, *args, _job_id=job_id, _defer_until=defer_until)
        return job is not None

    async def release(self, job_id: str) -> bool:
        # arq marks a started job "in progress" for the worker-wide job timeout + 10 s and runs it nowhere
        # else meanwhile; a SIGKILLed worker leaves the mark behind. Dropping it lets any worker run the
        # job (still queued: a job leaves the queue only when it finishes) at its next poll.
        return bool(await self.redis.delete(in_progress_key_prefix + job_id))

    async def aclose(self) -> None:
        return None


@dataclass
class _Running:
    task: asyncio.Task[None]
    tries: int = 0


@dataclass
class InProcessJobQueue:
    """The embedded default: the same job functions, run as tasks of this process, crons included.

    Nothing here is durable, and nothing needs to be: the database is the truth and the sweeper cron
    finds whatever a restart dropped.
    """

    specs: Sequence[JobSpec]
    crons: Sequence[CronSpec] = ()
    ctx: dict[str, Any] = field(default_factory=dict)
    _running: dict[str, _Running] = field(default_factory=dict)
    _cron_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _counter: int = 0

    def start(self) -> None:
        for cron in self.crons:
            self._cron_tasks.append(asyncio.create_task(self._cron_loop(cron), name=f"cron:{cron.name}"))

    async def enqueue(
        self, function: str, *args: Any, job_id: str | None = None, defer_until: datetime | None = None
    ) -> bool:
        spec = next((s for s in self.specs if s.name == function), None)
        if spec is None:
            raise LookupError(f"no job function named {function!r}")
        if job_id is None:
            self._counter += 1
            job_id = f"{function}:{self._counter}"
        if job_id in self._running:
            return False
        delay = 0.0
        if defer_until is not None:
            delay = max(0.0, (defer_until - datetime.now(UTC)).total_seconds())
        running = _Running(task=asyncio.create_task(self._run(spec, job_id, args, delay), name=f"job:{job_id}"))
        self._running[job_id] = running
        return True

    async def release(self, job_id: str) -> bool:
        # Jobs run in this process die with it: a job of ours that is running is alive.
        return False

    async def _run(self, spec: JobSpec, job_id: str, args: tuple[Any, ...], delay: float) -> None:
        try:
            while True:
                if delay:
                    await asyncio.sleep(delay)
                running = self._running[job_id]
                running.tries += 1
                if running.tries > spec.max_tries:
                    logger.warning("job gave up", extra={"job": spec.name, "job_id": job_id, "tries": spec.max_tries})
                    JOBS.labels(spec.name, "gave_up").inc()
                    return
                ctx = {**self.ctx, "job_id": job_id, "job_try": running.tries}
                try:
                    if spec.timeout_seconds:
                        await asyncio.wait_for(spec.function(ctx, *args), spec.timeout_seconds)
                    else:
                        await spec.function(ctx, *args)
                except Retry as retry:
                    JOBS.labels(spec.name, "retry").inc()
                    delay = (retry.defer_score or 0) / 1000
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception:
                    JOBS.labels(spec.name, "error").inc()
                    logger.exception("job failed", extra={"job": spec.name, "job_id": job_id})
                    return
                JOBS.labels(spec.name, "ok").inc()
                return
        finally:
            self._running.pop(job_id, None)

    async def _cron_loop(self, cron: CronSpec) -> None:
        spec = JobSpec(cron.function, max_tries=1)
        if cron.run_at_startup:
            await self._run_cron_once(spec)
        while True:
            now = datetime.now(UTC)
            await asyncio.sleep((cron.next_run(now) - now).total_seconds())
            await self._run_cron_once(spec)

    async def _run_cron_once(self, spec: JobSpec) -> None:
        try:
            await spec.function({**self.ctx, "job_id": f"cron:{spec.name}", "job_try": 1})
            JOBS.labels(spec.name, "ok").inc()
        except asyncio.CancelledError:
            raise
        except Exception:
            JOBS.labels(spec.name, "error").inc()
            logger.exception("cron job failed", extra={"job": spec.name})

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until no job is queued or running (tests use it to observe the end state)."""
        async with asyncio.timeout(timeout):
            while self._running:
                await asyncio.gather(*(r.task for r in list(self._running.values())), return_exceptions=True)

    async def stop_crons(self) -> None:
        """Stop the periodic jobs; queued and running jobs go on (a test that owns the clock and the database)."""
        await _cancel(self._cron_tasks)
        self._cron_tasks.clear()

    async def aclose(self) -> None:
        tasks = [*self._cron_tasks, *(r.task for r in self._running.values())]
        await _cancel(tasks)
        self._running.clear()
        self._cron_tasks.clear()


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
