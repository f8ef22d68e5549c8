"""One runner at a time: a post is claimed with a lease, and every write checks the lease is still ours.

The lease is two columns (`lease_owner`, `lease_until`). Claiming is one atomic UPDATE; each write of the
state machine renews it, and a final state (or a wait handed back to the queue) gives it up in the same
write. While a runner works, `kept_alive` renews its leases every third of PUBLISH_LEASE_SECONDS (15 s), so
a lease runs out only when its runner is gone: a SIGKILLed worker or API process is noticed within seconds,
and the recovery (`recovery.py`, every 5 s) hands its posts to the next runner. No transaction is ever held
across a call to Instagram: each write is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts import service as accounts_service
from app.accounts.models import Account
from app.config import Settings
from app.db import single_statement, unit_of_work, utcnow
from app.events.models import Event
from app.publishing import repository
from app.publishing.models import FINAL_STATUSES, Post
from app.publishing.outcomes import Outcome

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another runner owns the post now (ours ran out): stop touching it."""


class PostChanges(TypedDict, total=False):
    """The columns the state machine writes."""

    status: str
    container_id: str | None
    container_created_at: datetime | None
    children: list[str]
    publish_sent_at: datetime | None
    media_id: str | None
    published_at: datetime | None
    error: str | None
    error_code: str | None
    retryable: bool
    next_attempt_at: datetime | None
    attempts: int
    first_comment_status: str | None
    first_comment_id: str | None
    first_comment_error: str | None
    first_comment_due_at: datetime | None
    first_comment_sent_at: datetime | None
    first_comment_attempts: int


def new_owner() -> str:
    return secrets.token_hex(8)


@dataclass
class Lease:
    """A runner's hold on one post; `post` is the runner's copy of the row, kept in step with every write."""

    sessionmaker: async_sessionmaker[AsyncSession]
    post: Post
    owner: str
    settings: Settings
    # The post's account's username when the runner holds the account (its final event names it): one read less.
    username: str | None = None
    released: bool = False

    async def save(
        self, *, release_assets: bool = False, give_up: bool = False, **changes: Unpack[PostChanges]
    ) -> Event | None:
        """Write `changes` in a unit of work of their own if the lease is still ours (raises LeaseLost),
        renewing it, or giving it up with a final status or when `give_up` (the post waits for a job). A final
        status goes through `repository.finished` in the same transaction (`release_assets`: its media too),
        and its event is returned (a post.published waits there for its permalink)."""
        now = utcnow()
        final = give_up or changes.get("status") in FINAL_STATUSES
        lease_until = None if final else now + timedelta(seconds=self.settings.publish_lease_seconds)
        values: dict[str, object] = {**changes, "updated_at": now, "lease_until": lease_until}
        if final:
            values["lease_owner"] = None
        event = None
        if "status" in changes and changes["status"] in FINAL_STATUSES:
            async with unit_of_work(self.sessionmaker) as session:
                if not await repository.update_leased(session, self.post.id, self.owner, values):
                    raise LeaseLost()
                # In step before the event is built from it (the write above is committed with it, or neither is).
                self._in_step(changes)
                event = await repository.finished(
                    session,
                    [self.post],
                    changes["status"],
                    settings=self.settings,
                    release_assets=release_assets,
                    username=self.username,
                )
        else:
            # One UPDATE and nothing with it (a container id, publish_sent_at, a wait): durable once it returns.
            async with single_statement(self.sessionmaker) as session:
                if not await repository.update_leased(session, self.post.id, self.owner, values):
                    raise LeaseLost()
            self._in_step(changes)
        self.released = final
        return event

    def _in_step(self, changes: PostChanges) -> None:
        for column, value in changes.items():
            setattr(self.post, column, value)

    async def release(self) -> None:
        """Give the lease up without writing anything else (a run that ended without a verdict written)."""
        if self.released:
            return
        async with single_statement(self.sessionmaker) as session:
            await repository.update_leased(
                session, self.post.id, self.owner, {"lease_until": None, "lease_owner": None}
            )
        self.released = True


@dataclass(frozen=True)
class Claimed:
    """A post this runner holds, with its account as it was when claimed."""

    post: Post
    account: Account | None
    owner: str


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], post_id: int, lease_seconds: float
) -> Claimed | Outcome:
    """Take the post if it is active and nobody holds it; otherwise say it is final, or busy until when."""
    owner = new_owner()
    now = utcnow()
    async with unit_of_work(sessionmaker) as session:
        if not await repository.claim(session, post_id, owner, now + timedelta(seconds=lease_seconds), now):
            current = await repository.get(session, post_id)
            if current is None or current.status in FINAL_STATUSES:
                return Outcome("final")
            remaining = (current.lease_until - now).total_seconds() if current.lease_until else 1.0
            return Outcome("busy", max(1.0, remaining + 1.0))
        post = await repository.get(session, post_id)
        assert post is not None
        account = await accounts_service.get(session, post.account_id)
    return Claimed(post, account, owner)


def hold_new(post: Post, owner: str, lease_seconds: float) -> None:
    """Make a post that is being created already held by `owner`: the request that records it runs it at
    once, so claiming it would be a transaction for nothing. Its first run is its first attempt."""
    post.lease_owner = owner
    post.lease_until = utcnow() + timedelta(seconds=lease_seconds)
    post.attempts = 1


@asynccontextmanager
async def kept_alive(
    sessionmaker: async_sessionmaker[AsyncSession], owner: str, post_ids: Sequence[int], lease_seconds: float
) -> AsyncIterator[None]:
    """Renew `owner`'s leases on these posts every third of the lease while the block runs: a slow call to
    Instagram never lets the lease run out under a live runner, and a dead runner's lease runs out within
    `lease_seconds`. A run shorter than a third of the lease writes nothing more (its own writes renew)."""
    if not post_ids:
        yield
        return
    done = asyncio.Event()
    keeper = asyncio.create_task(_keep(sessionmaker, owner, list(post_ids), lease_seconds, done))
    try:
        yield
    finally:
        # Stopped, not cancelled: a renewal under way finishes its transaction.
        done.set()
        await keeper


async def _keep(
    sessionmaker: async_sessionmaker[AsyncSession],
    owner: str,
    post_ids: list[int],
    lease_seconds: float,
    done: asyncio.Event,
) -> None:
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), lease_seconds / 3)
            return
        try:
            async with unit_of_work(sessionmaker) as session:
                held = await repository.renew_leases(
                    session, post_ids, owner, utcnow() + timedelta(seconds=lease_seconds)
                )
        except Exception as exc:
            # The database is unreachable: so is it for any other runner; try again at the next turn.
            logger.warning("lease not renewed", extra={"post_ids": post_ids, "error": type(exc).__name__})
            continue
        if held == 0:
            return  # every post is final, handed back, or taken over: nothing left to keep
