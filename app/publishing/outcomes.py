"""What the state machine's steps decide, and what one run of it tells its caller.

Each step returns a verdict (`Published`, `Wait`, `Fail`) or None to let the next step go on; the run ends
on the first verdict and writes it. The caller (a request or a job) gets an `Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from app.failures import Failure
from app.publishing.models import Post


class Mode(StrEnum):
    INLINE = "inline"  # inside an HTTP request: errors are answered now, waits are handed to the queue
    BACKGROUND = "background"  # a job: errors are retried later, waits become deferred jobs


@dataclass(frozen=True)
class Published:
    """Instagram published the post, and the publication is recorded."""

    media_id: str | None


WaitReason = Literal["poll", "schedule", "reconcile", "retry", "quota"]


@dataclass(frozen=True)
class Wait:
    """Come back later. Polling, schedules and reconciling are normal; a retry counts as an attempt.

    `failure` is the problem met (throttling, Instagram down, a full quota), shown on the post meanwhile.
    """

    seconds: float
    reason: WaitReason
    failure: Failure | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", max(0.05, self.seconds))


@dataclass(frozen=True)
class Fail:
    """The post fails with this failure (retryable or not)."""

    failure: Failure


Verdict = Published | Wait | Fail


@dataclass(frozen=True)
class Outcome:
    """How far a run took the post: `deferred` and `busy` say when to look again; `post` is the runner's
    copy of the row when it ran (current for `published` and `failed`)."""

    kind: Literal["published", "failed", "deferred", "busy", "final"]
    defer_seconds: float = 0.0
    post: Post | None = None
