"""Accounts Instagram throttled without saying for how long: not called again until their usage has room.

Meta's rate-limiting guide: when an account is throttled, stop calling it (throttled calls count too) until
`estimated_time_to_regain_access` has passed. When Instagram sends no such time (and no Retry-After), the
client pauses the account itself: every call for it fails at once with `RateLimited` (no request is sent)
until the pause ends. Then one call goes through as a probe: answered, with usage headers that show room
(every counter under 100%), the account is free again; throttled again, the pause doubles (up to 15 min).

Accounts are told apart by their access token (one token per app-user pair, the unit Instagram throttles),
kept only as a hash. The memory is per process, like the connection pool.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FIRST_PAUSE_SECONDS = 60.0
MAX_PAUSE_SECONDS = 900.0


@dataclass
class _Pause:
    until: float
    seconds: float


def account_key(token: str) -> str:
    """The account a token acts for, without keeping the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def _usage_entries(headers: Mapping[str, str]) -> list[dict[str, object]] | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    raw = lowered.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(usage, dict):
        return None
    return [
        entry for entries in usage.values() if isinstance(entries, list) for entry in entries if isinstance(entry, dict)
    ]


def wait_time_given(headers: Mapping[str, str]) -> bool:
    """Whether Instagram said how long to wait: `Retry-After`, or `estimated_time_to_regain_access` (even 0)."""
    if any(key.lower() == "retry-after" for key in headers):
        return True
    return any("estimated_time_to_regain_access" in entry for entry in _usage_entries(headers) or ())


def usage_has_room(headers: Mapping[str, str]) -> bool | None:
    """Whether `X-Business-Use-Case-Usage` shows every counter under 100% and no wait (None: no header)."""
    entries = _usage_entries(headers)
    if entries is None:
        return None
    for entry in entries:
        for name in ("call_count", "total_cputime", "total_time"):
            value = entry.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 100:
                return False
        regain = entry.get("estimated_time_to_regain_access")
        if isinstance(regain, int | float) and not isinstance(regain, bool) and regain > 0:
            return False
    return True


class AccountPauses:
    """Per-account pauses after throttling without a wait time; see the module docstring."""

    def __init__(
        self,
        *,
        first_pause_seconds: float = FIRST_PAUSE_SECONDS,
        max_pause_seconds: float = MAX_PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._first = first_pause_seconds
        self._max = max_pause_seconds
        self._clock = clock
        self._pauses: dict[str, _Pause] = {}

    def remaining(self, key: str) -> float | None:
        """Seconds the account stays paused, or None when a call may go out (it may be the probe)."""
        pause = self._pauses.get(key)
        if pause is None:
            return None
        now = self._clock()
        if now < pause.until:
            return pause.until - now
        # The probe: one call goes out; others wait for its answer as long as one more pause.
        pause.until = now + pause.seconds
        return None

    def pause(self, key: str) -> float:
        """Pause the account after a throttle without a wait time; returns the seconds of the pause."""
        previous = self._pauses.get(key)
        seconds = self._first if previous is None else min(self._max, previous.seconds * 2)
        self._pauses[key] = _Pause(self._clock() + seconds, seconds)
        return seconds

    def answered(self, key: str, headers: Mapping[str, str]) -> None:
        """A call for the account was answered: free it unless its usage headers still show no room."""
        if key in self._pauses and usage_has_room(headers) is not False:
            del self._pauses[key]

    def is_paused(self, key: str) -> bool:
        pause = self._pauses.get(key)
        return pause is not None and self._clock() < pause.until


def ceil_seconds(seconds: float) -> float:
    return float(max(1, math.ceil(seconds)))
