"""The sandbox's state: one `Sandbox` object per app instance (nothing is shared between two sandboxes).

Everything runs on one event loop; a mutation that must be atomic (consuming a code, publishing a container)
is written without an `await` between its check and its update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import httpx

from app.config import Settings
from app.sandbox.callbacks import CallbackUrls
from app.sandbox.media_fetch import MediaFetcher
from app.sandbox.models import AuthCode, Comment, Container, Media, PublishedEntry, User
from app.sandbox.outbound import OutboundHttp
from app.sandbox.profiles import build_user, seed_media
from app.sandbox.switches import FaultBook, HoldBook, Latency, UsageMeter
from app.sandbox.webhooks import WebhookEmitter

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_QUOTA_TOTAL = 100
DEFAULT_CONTAINER_LIMIT = 400


@dataclass(slots=True)
class Knobs:
    """Values the control API may change; `POST /control/reset` restores them."""

    video_processing_seconds: float
    quota_total: int = DEFAULT_QUOTA_TOTAL
    container_limit: int = DEFAULT_CONTAINER_LIMIT
    token_response_shape: Literal["nested", "flat"] = "nested"  # noqa: S105 - not a secret
    # Generous defaults: normal tests and benchmarks never reach them.
    app_call_budget: int = 10_000_000
    app_window_seconds: float = 3600.0
    user_call_budget: int = 1_000_000
    user_window_seconds: float = 86400.0
    # Metrics a product type (FEED, REELS, STORY) no longer serves: refused with code 100 like an unknown
    # one, as Instagram does when it withdraws a metric (tests a client whose lists are out of date).
    withdrawn_media_metrics: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Switches:
    latency: Latency
    faults: FaultBook = field(default_factory=FaultBook)
    holds: HoldBook = field(default_factory=HoldBook)
    usage: UsageMeter = field(default_factory=UsageMeter)


class World:
    """Users, media, containers, codes and the published log."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.usernames: dict[str, str] = {}
        self.app_scoped_ids: dict[str, str] = {}
        self.media: dict[str, Media] = {}
        # Top-level media (stories included, carousel children not) per ig user id, in insertion order.
        self.user_media: dict[str, list[str]] = {}
        self.containers: dict[str, Container] = {}
        self.container_times: dict[str, deque[datetime]] = {}
        self.publish_times: dict[str, list[datetime]] = {}
        self.published: list[PublishedEntry] = []
        self.codes: dict[str, AuthCode] = {}
        self.revoked_before: dict[str, float] = {}
        self.revoked_nonces: set[str] = set()
        # Webhook fields each account enabled for the app (`POST /me/subscribed_apps`), per ig user id.
        self.subscriptions: dict[str, list[str]] = {}
        # Comments and replies by id; each media's top-level comment ids, oldest first.
        self.comments: dict[str, Comment] = {}
        self.media_comments: dict[str, list[str]] = {}
        # Deleted comments and replies, with when: Instagram forgets them, the control API still shows them.
        self.deleted_comments: dict[str, tuple[Comment, datetime]] = {}

    def ensure_user(self, username: str, now: datetime) -> User:
        """The account for a username, created (with its seeded media) on first use."""
        ig_id = self.usernames.get(username)
        if ig_id is not None:
            return self.users[ig_id]
        user = build_user(username, now)
        self.users[user.ig_id] = user
        self.usernames[username] = user.ig_id
        self.app_scoped_ids[user.app_scoped_id] = user.ig_id
        self.user_media[user.ig_id] = []
        for media in seed_media(user, now):
            self.add_media(media)
        return user

    def find_user(self, node_id: str) -> User | None:
        """A user by Instagram user id or app-scoped id."""
        ig_id = self.app_scoped_ids.get(node_id, node_id)
        return self.users.get(ig_id)

    def add_media(self, media: Media) -> None:
        self.media[media.id] = media
        if media.parent_id is None:
            self.user_media.setdefault(media.owner_id, []).append(media.id)

    def new_id(self, prefix: str) -> str:
        """A fresh 17-digit id (`178…` containers, `179…` media, `18…` comments) unused in this sandbox."""
        while True:
            candidate = prefix + f"{secrets.randbelow(10 ** (17 - len(prefix))):0{17 - len(prefix)}d}"
            taken = (self.media, self.containers, self.comments, self.deleted_comments)
            if all(candidate not in ids for ids in taken):
                return candidate

    def add_comment(self, comment: Comment) -> None:
        """Store a comment: a reply under its top-level comment, otherwise under its media."""
        self.comments[comment.id] = comment
        if comment.parent_id is not None:
            self.comments[comment.parent_id].replies.append(comment.id)
        else:
            self.media_comments.setdefault(comment.media_id, []).append(comment.id)

    def delete_comment(self, comment_id: str, when: datetime) -> None:
        """Forget a comment and, for a top-level one, its replies (they go with it on Instagram)."""
        comment = self.comments.pop(comment_id)
        self.deleted_comments[comment_id] = (comment, when)
        for reply_id in comment.replies:
            reply = self.comments.pop(reply_id, None)
            if reply is not None:
                self.deleted_comments[reply_id] = (reply, when)
        if comment.parent_id is not None:
            parent = self.comments.get(comment.parent_id)
            if parent is not None and comment_id in parent.replies:
                parent.replies.remove(comment_id)
        else:
            siblings = self.media_comments.get(comment.media_id, [])
            if comment_id in siblings:
                siblings.remove(comment_id)


class Sandbox:
    """The state of one sandbox app: clock, knobs, world, switches, the media fetcher, webhooks and callbacks."""

    def __init__(
        self, settings: Settings, *, base_url: str, fetch_transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.fetcher = MediaFetcher(
            transport=fetch_transport, local_prefix=self.base_url + "/cdn/", local_lookup=self._local_cdn
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self.clock_offset = 0.0
        self.knobs = Knobs(video_processing_seconds=settings.sandbox_video_processing_seconds)
        self.world = World()
        self.switches = Switches(latency=Latency(settings.sandbox_latency_profile))
        # Calls to the app's own URLs (webhooks, callbacks) use the same transport seam as media fetches.
        self.outbound = OutboundHttp(fetch_transport)
        self.webhooks = WebhookEmitter(clock=self.timestamp, outbound=self.outbound, app_secret=settings.app_secret)
        self.callbacks = CallbackUrls()

    # --- clock ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox time: real UTC time plus the offset moved by `POST /control/clock`."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def timestamp(self) -> float:
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.clock_offset += seconds
        # Webhook retries wait on the sandbox clock.
        self.webhooks.wake()

    # --- lifecycle --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to a clean state: users, containers, media, codes, faults, holds, latency, knobs, clock,
        webhook configuration, subscriptions, pending deliveries and log, callback URLs."""
        self.switches.holds.abort_all()
        self.clock_offset = 0.0
        self.knobs = Knobs(video_processing_seconds=self.settings.sandbox_video_processing_seconds)
        self.world = World()
        self.switches = Switches(latency=Latency(self.settings.sandbox_latency_profile))
        self.webhooks.reset()
        self.callbacks = CallbackUrls()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run a call's processing as its own task: it completes even if the caller goes away."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("sandbox call failed", exc_info=task.exception())

    async def aclose(self) -> None:
        """Cancel calls still running (held or sleeping) and the webhook emitter; close the HTTP clients."""
        await self.webhooks.aclose()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.fetcher.aclose()
        await self.outbound.aclose()

    def _local_cdn(self, path: str) -> tuple[bytes, str] | None:
        # Imported here: the CDN module depends on this one (its routes take a Sandbox).
        from app.sandbox.cdn import cdn_content

        return cdn_content(self, path)
