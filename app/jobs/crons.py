"""Periodic jobs: which seconds of which minutes of which hours a job runs at (UTC), for arq's cron and the
in-process runner."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

JobFunction = Callable[..., Awaitable[Any]]

EVERY_FIVE_SECONDS = frozenset(range(0, 60, 5))


@dataclass(frozen=True)
class CronSpec:
    """A periodic job: runs at the given seconds of the given minutes of the given hours (None: every hour /
    every minute; seconds default to the minute's start). `quiet`: its runs are not logged one by one (a job
    that runs every few seconds would drown the log; its failures still are)."""

    function: JobFunction
    hours: frozenset[int] | None = None
    minutes: frozenset[int] | None = None
    seconds: frozenset[int] = frozenset({0})
    run_at_startup: bool = False
    quiet: bool = False

    @property
    def name(self) -> str:
        return self.function.__name__

    def next_run(self, after: datetime) -> datetime:
        """The first matching second strictly after `after` (UTC)."""
        after = after.astimezone(UTC)
        minute = after.replace(second=0, microsecond=0)
        for _ in range(60 * 24 * 2 + 1):
            if (self.hours is None or minute.hour in self.hours) and (
                self.minutes is None or minute.minute in self.minutes
            ):
                for second in sorted(self.seconds):
                    if (candidate := minute + timedelta(seconds=second)) > after:
                        return candidate
            minute += timedelta(minutes=1)
        raise ValueError(f"cron {self.name} never runs")


class QuietCrons(logging.Filter):
    """arq logs the start and the end of every job; a cron that runs every few seconds would drown the
    log, so its routine lines go (its failures are logged at WARNING and above, and stay). arq's job lines
    name the job second, after the seconds it waited or ran (`"%6.2fs → %s(%s)%s"`); a cron job is named by
    its function."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = frozenset(names)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return record.levelno > logging.INFO or not (len(args) >= 2 and args[1] in self.names)
