"""`python -m app worker`: arq's Worker, kept running through Redis outages.

How arq's worker dies when Redis goes away (arq 0.28, `arq/worker.py`; python-arq/arq#386, #435, #498):
- `Worker.main` polls in a loop, `_poll_iteration`: ZRANGEBYSCORE for due jobs, `start_jobs` (a WATCH/MULTI
  pipeline per job), the health key, the crons' `enqueue_job`. Nothing in it catches redis-py's
  `ConnectionError` or `TimeoutError`, so the first failed command ends `main` with it. A job task that met a
  lost connection in arq's own bookkeeping is re-raised into the same loop by `t.result()`.
- `Worker.run` then calls `close()`, which needs Redis too (DEL of the health key) and raises again before
  `on_shutdown`; the `arq` command exits with a traceback.
- At start-up `create_pool` tries `conn_retries` (5) times a second apart, then raises: a worker started
  while Redis is down for longer is gone as well.

So this process runs arq's Worker itself, on a Redis client of its own that connects on first use with short
timeouts (`connection.redis_client`). When `Worker.main` ends with a lost Redis connection, the supervisor
waits until Redis answers a PING (every 0.5 s, then 1 s, then every 2 s), and runs `main` again on the same Worker:
the jobs it was running go on (they need only the database and Instagram until they finish), its counters
stay, and the crons that run at start-up (the sweepers) run again at once, finding in the database what the
outage left there (posts recorded while Redis was down, jobs lost with a Redis that restarted empty). Any
other error still ends the process, as a bug should. SIGTERM and SIGINT stop it as they stop arq.

While it waits, the heartbeat (`/readyz`'s "worker") is not written: it means "polling", not "alive".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any

from arq.worker import Worker, get_kwargs

from app.config import get_settings
from app.jobs.connection import redis_client
from app.jobs.heartbeat import beat
from app.jobs.worker import POLLING, WorkerSettings
from app.memory import limit_malloc_arenas
from app.observability.logging import configure_logging
from app.outages import which_dependency

logger = logging.getLogger(__name__)

FIRST_WAIT_SECONDS = 0.5
LONGEST_WAIT_SECONDS = 2.0


class SupervisedWorker(Worker):
    """arq's Worker, returning the job slot that a lost connection would leak.

    `start_jobs` takes a slot (the semaphore and `job_counter`) before the Redis pipeline that marks a job
    started; when that pipeline fails with a lost connection the exception leaves with the slot, and after
    `max_jobs` (50) such outages the worker would start nothing. Every other way out of it returns the slot,
    and a job it started returns its own when its task ends.
    """

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except Exception:
            self.job_counter -= 1
            self.sem.release()
            raise


def run() -> int:
    """Run the worker until SIGTERM or SIGINT; 0 on a clean stop."""
    settings = get_settings()
    # Before any thread allocates: glibc fixes its arena limit when the second arena is made.
    limit_malloc_arenas(settings.malloc_arena_max)
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(supervise())
    return 0


async def supervise() -> None:
    """Run arq's Worker, again after each Redis outage, until it is told to stop."""
    settings = get_settings()
    assert settings.redis_url, "WorkerSettings refuses to load without REDIS_URL"
    pool = redis_client(settings.redis_url)
    # The same settings as `arq app.jobs.worker.WorkerSettings` (arq's own reading of the class), our client.
    settings_kwargs: dict[str, Any] = dict(get_kwargs(WorkerSettings))  # type: ignore[arg-type]
    worker = SupervisedWorker(**{**settings_kwargs, "redis_pool": pool})
    stopping = asyncio.Event()
    worker.on_stop = lambda _signal: stopping.set()
    lost = False
    try:
        while not stopping.is_set():
            if not await _wait_for_redis(worker, stopping, lost=lost):
                break
            if lost:
                _rearm_crons(worker)
            worker.ctx[POLLING] = True
            worker.main_task = asyncio.create_task(worker.main())
            try:
                await worker.main_task
                break  # main returns only in burst mode
            except asyncio.CancelledError:
                if stopping.is_set():
                    break  # the signal handler cancelled main
                raise
            except Exception as exc:
                if which_dependency(exc) != "redis":
                    raise
                worker.ctx[POLLING] = False
                lost = True
                logger.warning("redis connection lost: waiting for it", extra={"error": f"{type(exc).__name__}: {exc}"})
    finally:
        await _close(worker)


async def _wait_for_redis(worker: Worker, stopping: asyncio.Event, *, lost: bool) -> bool:
    """Until Redis answers a PING (True), or the worker is told to stop (False)."""
    wait = FIRST_WAIT_SECONDS
    started = time.monotonic()
    failed = False
    while not stopping.is_set():
        try:
            await worker.pool.ping()
        except Exception as exc:
            if which_dependency(exc) != "redis":
                raise
            if not failed and not lost:
                logger.warning("redis unreachable at start-up: waiting for it", extra={"error": type(exc).__name__})
            failed = True
        else:
            if failed or time.monotonic() - started > 1:
                logger.info("redis is back", extra={"waited_seconds": round(time.monotonic() - started, 1)})
            if "redis" in worker.ctx:
                # Before the first poll: a Redis that restarted empty has no heartbeat to show.
                with contextlib.suppress(Exception):
                    await beat(worker.pool)
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), wait)
        wait = min(LONGEST_WAIT_SECONDS, wait * 2)
    return False


def _rearm_crons(worker: Worker) -> None:
    """The sweepers (run at start-up) run again at once after an outage; a cron that runs several times a
    minute resumes from now instead of catching up every run it missed. Others keep arq's catch-up (one late
    run)."""
    now = datetime.now(tz=worker.timezone)
    for cron_job in worker.cron_jobs:
        if cron_job.run_at_startup:
            cron_job.next_run = None
        elif _runs_often(cron_job.second) and cron_job.next_run is not None and cron_job.next_run < now:
            cron_job.calculate_next(now)


def _runs_often(second: Any) -> bool:
    return isinstance(second, set | frozenset) and len(second) > 1


async def _close(worker: Worker) -> None:
    """arq's `close`, which would fail, and skip `on_shutdown`, when Redis is down at that moment."""
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    with contextlib.suppress(Exception):
        await worker.pool.delete(worker.health_check_key)
    if worker.on_shutdown:
        await worker.on_shutdown(worker.ctx)
    await worker.pool.aclose()
