"""A batch's posts take turns getting ready to publish, so their publications leave one after another.

Running a batch's posts side by side, each one's way to `media_publish` (creating its container, saving it,
reading its status and the quota) is CPU work in this process and short calls. All of them advancing in lockstep
send their `media_publish` calls at about the same moment, wait out Instagram's publishing time together, then
record their publications together: the batch takes the whole preparing, then the publishing time, then the
whole recording. With a few posts getting ready at a time, the first publications leave after a few posts'
preparing; each one is recorded while later ones are still under way, and the batch ends soon after the last
publication returns. Only the order of the work changes: every post still runs its whole state machine, and
the waiting on Instagram (the publishing call itself) is never queued behind a turn.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

# Posts getting ready at once: enough to keep the process busy while some wait on their calls (each getting
# ready is about 5 ms of CPU and four short round trips), few enough that the first publications leave early.
# Measured on 100 accounts (bench/batch_post.py): 4 and 8 end the batch 0.1–0.3 s sooner than no turns.
GETTING_READY_AT_ONCE = 8


class Turns:
    """The turns of one batch (one per request that publishes several posts)."""

    def __init__(self, at_once: int = GETTING_READY_AT_ONCE) -> None:
        self._slots = asyncio.Semaphore(at_once)

    def turn(self) -> Turn:
        return Turn(self._slots)


class Turn:
    """One post's turn: taken when its run starts (`async with`), passed on as its publication is sent (or when
    the run ends without one). Passing it on twice is harmless."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._held = False

    async def __aenter__(self) -> Turn:
        await self._slots.acquire()
        self._held = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pass_on()

    def pass_on(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()
