"""The in-process job runner (the embedded default) behaves like arq: ids refuse duplicates, Retry defers."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import Retry

from app.jobs import registry
from app.jobs.crons import EVERY_FIVE_SECONDS, CronSpec, QuietCrons
from app.jobs.queue import InProcessJobQueue, JobSpec


def test_cron_next_run() -> None:
    async def refresh(ctx: dict[str, Any]) -> None:
        return None

    six_hourly = CronSpec(refresh, hours=frozenset({0, 6, 12, 18}), minutes=frozenset({0}))
    assert six_hourly.next_run(datetime(2026, 11, 27, 5, 59, 30, tzinfo=UTC)) == datetime(
        2026, 11, 27, 6, 0, tzinfo=UTC
    )
    assert six_hourly.next_run(datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC)) == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert six_hourly.next_run(datetime(2026, 11, 27, 19, 0, tzinfo=UTC)) == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    every_minute = CronSpec(refresh)
    assert every_minute.next_run(datetime(2026, 11, 27, 5, 59, 30, tzinfo=UTC)) == datetime(
        2026, 11, 27, 6, 0, tzinfo=UTC
    )
    every_five_seconds = CronSpec(refresh, seconds=EVERY_FIVE_SECONDS)
    assert every_five_seconds.next_run(datetime(2026, 11, 27, 5, 59, 52, 500, tzinfo=UTC)) == datetime(
        2026, 11, 27, 5, 59, 55, tzinfo=UTC
    )
    assert every_five_seconds.next_run(datetime(2026, 11, 27, 5, 59, 55, tzinfo=UTC)) == datetime(
        2026, 11, 27, 6, 0, 0, tzinfo=UTC
    )


def test_a_frequent_cron_is_not_logged_run_by_run() -> None:
    """arq's start and end lines of the 5-second recovery are dropped; its failures and other jobs stay."""
    quiet = QuietCrons([spec.name for spec in registry.CRONS if spec.quiet])
    assert quiet.names == {"recover_posts", "sweep_inbound_deliveries"}

    def line(level: int, message: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("arq.worker", level, __file__, 1, message, args, None)

    assert not quiet.filter(line(logging.INFO, "%6.2fs → %s(%s)%s", 1.0, "recover_posts", "", ""))
    assert not quiet.filter(line(logging.INFO, "%6.2fs ← %s ● %s", 0.0, "recover_posts", 0))
    assert quiet.filter(line(logging.INFO, "%6.2fs → %s(%s)%s", 0.1, "sweep_posts", "", ""))
    assert quiet.filter(line(logging.INFO, "%6.2fs → %s(%s)%s", 0.1, "publish:7:publish_post", "7", ""))
    assert quiet.filter(line(logging.ERROR, "%6.2fs ! %s failed, %s: %s", 0.1, "recover_posts", "OSError", ""))


async def test_duplicates_are_refused_and_retries_defer() -> None:
    calls: list[tuple[str, int]] = []

    async def flaky(ctx: dict[str, Any], name: str) -> None:
        calls.append((name, ctx["job_try"]))
        if ctx["job_try"] < 3:
            raise Retry(defer=timedelta(milliseconds=20))

    queue = InProcessJobQueue(specs=[JobSpec(flaky, max_tries=5)])
    assert await queue.enqueue("flaky", "a", job_id="job:a") is True
    assert await queue.enqueue("flaky", "a", job_id="job:a") is False  # queued or running: refused
    await queue.drain(5)
    assert calls == [("a", 1), ("a", 2), ("a", 3)]
    assert await queue.enqueue("flaky", "a", job_id="job:a") is True  # finished: the id is free again
    await queue.aclose()


async def test_defer_until_and_max_tries() -> None:
    runs: list[float] = []
    loop = asyncio.get_running_loop()

    async def always_again(ctx: dict[str, Any]) -> None:
        runs.append(loop.time())
        raise Retry(defer=timedelta(milliseconds=10))

    queue = InProcessJobQueue(specs=[JobSpec(always_again, max_tries=3)])
    started = loop.time()
    await queue.enqueue("always_again", defer_until=datetime.now(UTC) + timedelta(milliseconds=150))
    await queue.drain(5)
    assert len(runs) == 3
    assert runs[0] - started >= 0.1
    await queue.aclose()


async def test_unknown_function() -> None:
    queue = InProcessJobQueue(specs=[])
    with pytest.raises(LookupError):
        await queue.enqueue("nothing")


async def test_a_failing_job_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(ctx: dict[str, Any]) -> None:
        raise ValueError("boom")

    queue = InProcessJobQueue(specs=[JobSpec(broken)])
    await queue.enqueue("broken", job_id="b")
    await queue.drain(5)
    assert "job failed" in caplog.text
    await queue.aclose()
