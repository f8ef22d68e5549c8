"""Periodic jobs: which minutes of which hours a job runs at (UTC), for arq's cron and the in-process runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class CronSpec:
    """A periodic job: runs at the given minutes of the given hours (None: every hour / every minute)."""

    function: JobFunction
    hours: frozenset[int] | None = None
    minutes: frozenset[int] | None = None
    run_at_startup: bool = False

    @property
    def name(self) -> str:
        return self.function.__name__

    def next_run(self, after: datetime) -> datetime:
        """The first matching minute strictly after `after` (second 0, UTC)."""
        candidate = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(60 * 24 * 2):
            if (self.hours is None or candidate.hour in self.hours) and (
                self.minutes is None or candidate.minute in self.minutes
            ):
                return candidate
            candidate += timedelta(minutes=1)
        raise ValueError(f"cron {self.name} never runs")
