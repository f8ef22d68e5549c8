"""The one retry policy of the Instagram client.

Only errors that a later attempt may not meet are retried: TransientError (which includes
InstagramUnavailable) and RateLimited. Each operation declares how much repetition it can bear:

- "safe": reads, token exchanges, and container creation. A duplicate container is harmless because
  only the container id the caller saved is ever published; the stray one expires after 24 hours.
- "connect_only": the OAuth code exchange. A code is single-use, so a second attempt after the first
  reached Instagram would fail with "code already used" and hide the real outcome. Retry only when no
  connection was ever made.
- "never": media_publish. It has no idempotency key; a retry after a lost answer publishes twice.
  The caller reconciles by reading the container's status instead.

Backoff is exponential with full jitter (`random() * min(cap, base * 2**n)`), bounded both by the number
of attempts and by a budget of total sleep, so a request handler never waits longer than it can afford.
When Instagram says how long to wait (`retry_after`) we wait at least that long, or give up at once if
it does not fit the budget, so the caller can answer 429 with a Retry-After of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from app.instagram.errors import InstagramError, InstagramUnavailable, RateLimited, TransientError

logger = logging.getLogger(__name__)

RetryMode = Literal["safe", "connect_only", "never"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts and how much sleeping a call may use; see the module docstring for the why."""

    max_attempts: int
    budget_seconds: float
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def may_retry(self, error: InstagramError, mode: RetryMode) -> bool:
        """Whether this error, under this operation's mode, is worth another attempt."""
        if mode == "never" or error.account_paused:
            # Paused: the account was throttled without a wait time; no call before it has room (throttle.py).
            return False
        if mode == "connect_only":
            return isinstance(error, InstagramUnavailable) and not error.request_sent
        return isinstance(error, TransientError | RateLimited)

    def backoff(self, retry_number: int, random: Callable[[], float]) -> float:
        """Full-jitter backoff before retry number `retry_number` (0 for the first retry)."""
        return random() * min(self.cap_seconds, self.base_seconds * 2.0**retry_number)

    def delay(self, error: InstagramError, retry_number: int, random: Callable[[], float]) -> float:
        """Seconds to sleep before the next attempt: the backoff, but never less than Instagram asked for."""
        jittered = self.backoff(retry_number, random)
        if error.retry_after is not None:
            return max(error.retry_after, jittered)
        return jittered

    async def run(
        self,
        send: Callable[[], Awaitable[T]],
        *,
        mode: RetryMode,
        operation: str,
        sleep: Callable[[float], Awaitable[None]],
        random: Callable[[], float],
    ) -> T:
        """Call `send` until it succeeds, the error is not retryable, or attempts or budget run out."""
        slept = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return await send()
            except InstagramError as error:
                error.attempts = attempt
                if not self.may_retry(error, mode) or attempt >= self.max_attempts:
                    raise
                delay = self.delay(error, attempt - 1, random)
                if slept + delay > self.budget_seconds:
                    raise
                # Operation and class only: the request URL may carry a token.
                logger.warning(
                    "instagram %s failed with %s (attempt %d of %d); retrying in %.2fs",
                    operation,
                    type(error).__name__,
                    attempt,
                    self.max_attempts,
                    delay,
                )
            await sleep(delay)
            slept += delay
