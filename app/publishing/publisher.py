"""The publishing state machine (DESIGN §4): moves one post forward, publishing it at most once.

    scheduled → pending → container_created → published | failed        (+ cancelled)

Rules this module keeps, whatever crashes and wherever:
- One runner at a time: a post is claimed with a lease (an atomic UPDATE); every write checks the lease
  is still ours, and a crashed runner's lease simply runs out.
- No database transaction is held open across a call to Instagram.
- The container id is saved as soon as Instagram returns it, before any polling.
- `publish_sent_at` is saved *before* `media_publish` is sent, and the media id right after it returns.
- When `publish_sent_at` is set and no media id is known, the outcome is unknown: the container's status
  is read first. PUBLISHED means done (never publish again); FINISHED is re-checked after a grace period
  and only then published again; ERROR/EXPIRED mean nothing was published.
- `media_publish` is never retried blindly: any error after sending it is reconciled the same way.
- Waiting (video processing, a scheduled time, a full quota, a retry after throttling) is a deferral the
  caller turns into a durable delayed job (`arq.Retry(defer=...)`), never a sleeping worker.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar

from sqlalchemy import and_, case, select, update

from app import instagram as ig
from app.accounts import service as accounts_service
from app.accounts.models import Account, AccountStatus
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.events.models import Event
from app.instagram_failures import AUTH_URL, InstagramReauthRequired
from app.observability.metrics import POSTS_FINISHED, PUBLISH_SECONDS
from app.publishing import events as post_events
from app.publishing import service
from app.publishing.models import ACTIVE_STATUSES, FINAL_STATUSES, Post, PostKind, PostStatus

logger = logging.getLogger(__name__)

RATE_LIMITED_MESSAGE = "Rate limit exceeded. Please try again later."
UNAVAILABLE_MESSAGE = "Instagram is unavailable right now; publishing will be retried."
MAX_RETRY_DELAY_SECONDS = 900.0
# How far back (before the container existed) a media item may be dated and still be ours.
DISCOVERY_SKEW = timedelta(minutes=2)
# A scheduled post this close to its time is started now rather than deferred for a moment.
SCHEDULE_TOLERANCE = timedelta(seconds=1)

T = TypeVar("T")

__all__ = ["AUTH_URL", "Mode", "Outcome", "advance_post"]


class Mode(StrEnum):
    INLINE = "inline"  # inside an HTTP request: errors are answered now, waits are handed to the queue
    BACKGROUND = "background"  # a job: errors are retried later, waits become deferred jobs


@dataclass(frozen=True)
class Outcome:
    kind: Literal["published", "failed", "deferred", "busy", "final"]
    defer_seconds: float = 0.0


class _Defer(Exception):
    """Come back later. `reason` decides how: polling and schedules are normal; retries are counted."""

    def __init__(
        self,
        seconds: float,
        reason: Literal["poll", "schedule", "reconcile", "retry", "quota"],
        *,
        message: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.seconds = max(0.05, seconds)
        self.reason = reason
        self.message = message
        self.code = code


class _Fail(Exception):
    def __init__(self, message: str, code: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after


class _LostLease(Exception):
    """Another runner owns the post now (ours ran out): stop touching it."""


async def advance_post(ctx: AppContext, post_id: int, mode: Mode) -> Outcome:
    """Take the post as far as it can go now; say whether it is published, failed or must be resumed."""
    owner = secrets.token_hex(8)
    claimed = await _claim(ctx, post_id, owner)
    if isinstance(claimed, Outcome):
        return claimed
    post, account = claimed
    runner = _Runner(ctx, post, account, owner, mode)
    try:
        await runner.run()
        return Outcome("published")
    except _Defer as deferral:
        if mode is Mode.INLINE and deferral.reason in ("retry", "quota"):
            # A request answers now (429, 502...) rather than leaving a post to publish behind the
            # client's back; POST /posts/{id}/retry or the same Idempotency-Key resumes it.
            await runner.fail(
                _Fail(
                    deferral.message or UNAVAILABLE_MESSAGE,
                    deferral.code or "instagram_unavailable",
                    retryable=True,
                    retry_after=deferral.seconds,
                )
            )
            return Outcome("failed")
        return await runner.defer(deferral)
    except _Fail as failure:
        await runner.fail(failure)
        return Outcome("failed")
    except _LostLease:
        return Outcome("busy", ctx.settings.publish_lease_seconds)
    finally:
        await runner.release()


async def _claim(ctx: AppContext, post_id: int, owner: str) -> tuple[Post, Account | None] | Outcome:
    now = utcnow()
    async with unit_of_work(ctx.sessionmaker) as session:
        result = await session.execute(
            update(Post)
            .where(
                Post.id == post_id,
                Post.status.in_(ACTIVE_STATUSES),
                (Post.lease_until.is_(None)) | (Post.lease_until < now),
            )
            .values(
                lease_until=now + timedelta(seconds=ctx.settings.publish_lease_seconds),
                lease_owner=owner,
                # A due scheduled post starts now; the first run counts as the first attempt.
                status=case(
                    (
                        and_(Post.status == PostStatus.SCHEDULED, Post.scheduled_at <= now + SCHEDULE_TOLERANCE),
                        PostStatus.PENDING,
                    ),
                    else_=Post.status,
                ),
                attempts=case((Post.attempts == 0, 1), else_=Post.attempts),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = await session.scalar(select(Post).where(Post.id == post_id))
            if current is None or current.status in FINAL_STATUSES:
                return Outcome("final")
            remaining = (current.lease_until - now).total_seconds() if current.lease_until else 1.0
            return Outcome("busy", max(1.0, remaining + 1.0))
        post = await session.scalar(select(Post).where(Post.id == post_id))
        assert post is not None
        account = await session.scalar(select(Account).where(Account.id == post.account_id))
    return post, account


class _Runner:
    def __init__(self, ctx: AppContext, post: Post, account: Account | None, owner: str, mode: Mode) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.ig = ctx.instagram
        self.post = post
        self.account = account
        self.owner = owner
        self.mode = mode
        self.token = ""
        self.released = False
        # The event recorded with the final state (post.published waits for its permalink).
        self.final_event: Event | None = None

    # --- the steps -----------------------------------------------------------------------------------

    async def run(self) -> None:
        post = self.post
        now = utcnow()
        if post.status == PostStatus.SCHEDULED and post.scheduled_at:
            raise _Defer(max(0.0, (post.scheduled_at - now).total_seconds()), "schedule")
        self.token = self._usable_token()
        if post.publish_sent_at is not None and await self.reconcile():
            return
        for _ in range(3):  # an EXPIRED container is re-created, but not forever
            await self.ensure_container()
            status = await self.container_status()
            if status.status_code == "EXPIRED":
                await self.forget_containers()
                continue
            if status.status_code == "PUBLISHED":
                await self.finish_published(None)
                return
            if status.status_code == "ERROR":
                await self.forget_containers()
                raise _Fail(_processing_error(status), "media_processing_failed", retryable=False)
            if status.status_code == "IN_PROGRESS":
                self.defer_poll()
            await self.check_quota()
            await self.publish()
            return
        raise _Fail(
            "Instagram kept expiring the media container; try again later",
            "container_expired",
            retryable=True,
        )

    def _usable_token(self) -> str:
        account = self.account
        if account is None or account.status == AccountStatus.DISCONNECTED or not account.access_token_encrypted:
            raise _Fail(
                "The account is disconnected. Connect it again, then retry the post.",
                "account_disconnected",
                retryable=True,
            )
        if account.status == AccountStatus.NEEDS_REAUTH:
            raise _Fail(InstagramReauthRequired.message, InstagramReauthRequired.code, retryable=True)
        token = accounts_service.access_token(account, self.ctx.cipher)
        assert token is not None
        return token

    async def ensure_container(self) -> None:
        post = self.post
        if post.container_id is not None:
            return
        if post.kind == PostKind.CAROUSEL:
            await self.ensure_children()
        assert self.account is not None
        user = self.account.ig_user_id
        caption = post.caption
        items = post.media
        if post.kind == PostKind.FEED:
            image = items[0]
            call = self.ig.create_image_container(
                self.token, user, image_url=image["url"], caption=caption, alt_text=image.get("alt_text")
            )
        elif post.kind == PostKind.STORY:
            medium = items[0]
            if medium["type"] == "image":
                call = self.ig.create_story_container(self.token, user, image_url=medium["url"])
            else:
                call = self.ig.create_story_container(self.token, user, video_url=medium["url"])
        elif post.kind == PostKind.REEL:
            video = next(i for i in items if i["role"] == "video")
            cover = next((i for i in items if i["role"] == "cover"), None)
            call = self.ig.create_reel_container(
                self.token,
                user,
                video_url=video["url"],
                caption=caption,
                cover_url=cover["url"] if cover else None,
                share_to_feed=bool(post.request.get("share_to_feed", True)),
            )
        else:
            call = self.ig.create_carousel_container(self.token, user, children=post.children, caption=caption)
        container_id = await self.instagram(call)
        now = utcnow()
        await self.save(container_id=container_id, container_created_at=now, status=PostStatus.CONTAINER_CREATED)

    async def ensure_children(self) -> None:
        """Carousel items: create the missing ones (each saved as it is made), then wait until all are ready."""
        assert self.account is not None
        user = self.account.ig_user_id
        children = list(self.post.children)
        for item in self.post.media[len(children) :]:
            if item["type"] == "image":
                call = self.ig.create_carousel_item_container(
                    self.token, user, image_url=item["url"], alt_text=item.get("alt_text")
                )
            else:
                call = self.ig.create_carousel_item_container(self.token, user, video_url=item["url"])
            children.append(await self.instagram(call))
            if self.post.container_created_at is None:
                await self.save(children=list(children), container_created_at=utcnow())
            else:
                await self.save(children=list(children))
        for child in children:
            status = await self.instagram(self.ig.get_container_status(self.token, child))
            if status.status_code == "ERROR":
                await self.save(children=[], container_created_at=None)
                raise _Fail(_processing_error(status), "media_processing_failed", retryable=False)
            if status.status_code == "EXPIRED":
                await self.save(children=[], container_created_at=None)
                raise _Defer(0.1, "poll")
            if status.status_code == "IN_PROGRESS":
                self.defer_poll()

    async def container_status(self) -> ig.ContainerStatus:
        assert self.post.container_id is not None
        try:
            return await self.instagram(self.ig.get_container_status(self.token, self.post.container_id))
        except _Fail as failure:
            if failure.code == "container_missing":
                await self.forget_containers()
                raise _Defer(0.1, "poll") from failure
            raise

    async def check_quota(self) -> None:
        """Read the publishing quota first: a full quota defers (or answers 429) instead of failing at Instagram."""
        assert self.account is not None
        limit = await self.instagram(self.ig.get_publishing_limit(self.token, self.account.ig_user_id))
        if limit.remaining > 0:
            return
        raise await self.quota_full(limit.quota_usage, limit.quota_total)

    async def quota_full(self, usage: int | None, total: int | None) -> _Defer:
        frees_at = await self.estimate_quota_free(total)
        wait = max(60.0, (frees_at - utcnow()).total_seconds())
        counts = f" ({usage} of {total} posts in 24 hours)" if usage is not None and total else ""
        return _Defer(
            wait,
            "quota",
            message=f"Instagram's publishing limit for this account is reached{counts}. "
            f"It frees up around {frees_at.strftime('%Y-%m-%dT%H:%MZ')}.",
            code="publishing_quota_exceeded",
        )

    async def estimate_quota_free(self, total: int | None) -> datetime:
        """When the rolling 24-hour window frees a slot, judging by what this service published."""
        now = utcnow()
        async with self.ctx.sessionmaker() as session:
            published = (
                await session.scalars(
                    select(Post.published_at)
                    .where(Post.account_id == self.post.account_id, Post.published_at > now - timedelta(days=1))
                    .order_by(Post.published_at)
                )
            ).all()
        if published and published[0] is not None and (total is None or len(published) >= total):
            return published[0] + timedelta(days=1)
        return now + timedelta(hours=1)

    async def publish(self) -> None:
        post = self.post
        assert self.account is not None and post.container_id is not None
        await self.save(publish_sent_at=utcnow())
        try:
            media_id = await self.ig.publish_container(self.token, self.account.ig_user_id, post.container_id)
        except ig.ContainerNotReady as exc:
            await self.save(publish_sent_at=None)
            self.defer_poll(exc)
        except ig.PublishingQuotaExceeded as exc:
            await self.save(publish_sent_at=None)
            raise await self.quota_full(None, None) from exc
        except (ig.TokenInvalid, ig.PermissionDenied, ig.RateLimited) as exc:
            # Refused before any work (who we are, or how often we call): certainly nothing was published.
            # A spam block (4 / 2207051) is not one of these: it is PublishBlocked and gets reconciled.
            await self.save(publish_sent_at=None)
            raise await self.failure_for(exc) from exc
        except ig.InstagramUnavailable as exc:
            if not exc.request_sent:
                await self.save(publish_sent_at=None)
                raise await self.failure_for(exc) from exc
            logger.warning("publish outcome unknown, reconciling", extra={"post_id": post.id, "error": str(exc)})
            await self.reconcile_or_defer()
        except ig.InstagramError as exc:
            # Anything else after the request left may hide a publish (a lost answer, a spam block...).
            logger.warning("publish answered an error, reconciling", extra={"post_id": post.id, "error": str(exc)})
            await self.reconcile_or_defer()
        else:
            await self.finish_published(media_id)

    async def reconcile_or_defer(self) -> None:
        if not await self.reconcile():
            # FINISHED again after the grace period: not published, so publishing again is safe.
            await self.check_quota()
            await self.publish()

    async def reconcile(self) -> bool:
        """An earlier media_publish has an unknown outcome: ask the container. True when published."""
        post = self.post
        assert post.publish_sent_at is not None
        if post.container_id is None:
            await self.save(publish_sent_at=None)
            return False
        try:
            status = await self.ig.get_container_status(self.token, post.container_id)
        except ig.TokenInvalid as exc:
            # Cannot look. Keep publish_sent_at, so a retry after reconnecting reconciles first.
            raise await self.failure_for(exc) from exc
        except ig.InstagramError as exc:
            raise _Defer(self.retry_delay(exc), "reconcile") from exc
        if status.status_code == "PUBLISHED":
            logger.info("unknown publish outcome reconciled: the container is published", extra={"post_id": post.id})
            await self.finish_published(None)
            return True
        if status.status_code == "FINISHED":
            waited = (utcnow() - post.publish_sent_at).total_seconds()
            grace = self.settings.publish_reconcile_grace_seconds
            if waited < grace:
                # The publish may still be under way at Instagram: look again before doing anything.
                raise _Defer(grace - waited, "reconcile")
            await self.save(publish_sent_at=None)
            return False
        if status.status_code == "IN_PROGRESS":
            self.defer_poll()
        # ERROR or EXPIRED: never published; start over with a new container.
        await self.forget_containers()
        return False

    async def finish_published(self, media_id: str | None) -> None:
        """Record the publication at once; only then look for the permalink (best effort)."""
        post = self.post
        if media_id is None:
            media_id = await self.discover_media_id()
        now = utcnow()
        await self.save(
            status=PostStatus.PUBLISHED,
            media_id=media_id,
            published_at=now,
            publish_sent_at=None,
            error=None
            if media_id
            else "Published; Instagram did not return the media id and it could not be "
            "identified among the account's recent media.",
            error_code=None if media_id else "media_id_unknown",
            next_attempt_at=None,
            retryable=False,
            release_assets=True,
        )
        POSTS_FINISHED.labels(post.kind, PostStatus.PUBLISHED).inc()
        started = post.scheduled_at or post.created_at
        PUBLISH_SECONDS.labels(post.kind).observe(max(0.0, (now - started).total_seconds()))
        logger.info("post published", extra={"post_id": post.id, "kind": post.kind, "media_id": media_id})
        permalink = await self.read_permalink(media_id)
        async with unit_of_work(self.ctx.sessionmaker) as session:
            if permalink:
                await session.execute(update(Post).where(Post.id == post.id).values(permalink=permalink))
            await post_events.permalink_known(session, self.final_event, permalink)
        post.permalink = permalink

    async def read_permalink(self, media_id: str | None) -> str | None:
        """The published media's permalink (best effort: None when Instagram does not give it now)."""
        if media_id is None:
            return None
        try:
            media = await self.ig.get_media(self.token, media_id)
        except ig.InstagramError as exc:
            logger.info("permalink not available yet", extra={"post_id": self.post.id, "error": str(exc)})
            return None
        return media.permalink

    async def discover_media_id(self) -> str | None:
        """Find the media a PUBLISHED container became, when the publish answer was lost.

        Never "the newest media": only an item published after the container was made, with this post's
        caption and product type, that no other post of ours claims — and only if exactly one matches.
        """
        post = self.post
        assert self.account is not None
        try:
            if post.kind == PostKind.STORY:
                candidates = await self.ig.list_stories(self.token, self.account.ig_user_id)
            else:
                page = await self.ig.list_media(self.token, self.account.ig_user_id, limit=50)
                candidates = page.items
        except ig.InstagramError as exc:
            logger.warning("media id discovery failed", extra={"post_id": post.id, "error": str(exc)})
            return None
        since = (post.container_created_at or post.created_at) - DISCOVERY_SKEW
        product = {PostKind.REEL: "REELS", PostKind.STORY: "STORY"}.get(PostKind(post.kind), "FEED")
        matches = [
            m
            for m in candidates
            if (m.timestamp is None or m.timestamp >= since)
            and (m.caption or None) == (post.caption or None)
            and (m.media_product_type or product).upper() == product
        ]
        if not matches:
            return None
        async with self.ctx.sessionmaker() as session:
            claimed = set(
                (
                    await session.scalars(
                        select(Post.media_id).where(
                            Post.account_id == post.account_id, Post.media_id.in_([m.id for m in matches])
                        )
                    )
                ).all()
            )
        unclaimed = [m.id for m in matches if m.id not in claimed]
        return unclaimed[0] if len(unclaimed) == 1 else None

    async def forget_containers(self) -> None:
        await self.save(
            container_id=None,
            container_created_at=None,
            children=[],
            publish_sent_at=None,
            status=PostStatus.PENDING,
        )

    # --- failures and waits --------------------------------------------------------------------------

    def defer_poll(self, cause: Exception | None = None) -> None:
        """The container is still processing: look again later, less often as time goes by."""
        started = self.post.container_created_at or utcnow()
        elapsed = (utcnow() - started).total_seconds()
        if elapsed > self.settings.container_poll_timeout_seconds:
            raise _Fail(
                f"Instagram did not finish processing the media within "
                f"{int(self.settings.container_poll_timeout_seconds // 60)} minutes",
                "processing_timeout",
                retryable=True,
            ) from cause
        # Look again after a quarter of the time it has taken so far: quickly for an image or a short clip,
        # about once a minute (as Meta advises) for a long video, never more than the cap.
        delay = min(
            self.settings.container_poll_max_interval_seconds,
            max(self.settings.container_poll_initial_seconds, elapsed / 4),
        )
        raise _Defer(delay, "poll") from cause

    def retry_delay(self, exc: ig.InstagramError | None = None) -> float:
        if exc is not None and exc.retry_after:
            return float(exc.retry_after)
        base = self.settings.publish_retry_base_seconds
        delay: float = min(MAX_RETRY_DELAY_SECONDS, base * 2 ** max(0, self.post.attempts - 1))
        return delay * (0.5 + random.random() / 2)

    async def instagram(self, call: Awaitable[T]) -> T:
        """Await an Instagram call made before publishing (nothing published yet: safe to retry later)."""
        try:
            return await call
        except ig.InstagramError as exc:
            raise await self.failure_for(exc) from exc

    async def failure_for(self, exc: ig.InstagramError) -> _Fail | _Defer:
        """What an Instagram error means for the post (a dead token also marks the account)."""
        if isinstance(exc, ig.TokenInvalid):
            assert self.account is not None
            await accounts_service.mark_needs_reauth(self.ctx.sessionmaker, self.account.id, exc.message)
            return _Fail(InstagramReauthRequired.message, InstagramReauthRequired.code, retryable=True)
        if isinstance(exc, ig.PermissionDenied):
            return _Fail(
                f"Instagram refused: {exc.message}. Connect the account again and grant the publishing permission.",
                "instagram_permission_denied",
                retryable=True,
            )
        if isinstance(exc, ig.ContainerNotFound):
            return _Fail(exc.message, "container_missing", retryable=True)
        if isinstance(exc, ig.MediaRejected):
            detail = exc.user_msg or exc.message
            return _Fail(f"Instagram rejected the media: {detail}", "media_rejected", retryable=False)
        if isinstance(exc, ig.PublishingQuotaExceeded):
            return await self.quota_full(None, None)
        if isinstance(exc, ig.RateLimited):
            return _Defer(self.retry_delay(exc), "retry", message=RATE_LIMITED_MESSAGE, code="rate_limited")
        if isinstance(exc, ig.BadRequest | ig.OAuthError):
            return _Fail(f"Instagram refused the request: {exc.message}", "instagram_bad_request", retryable=False)
        return _Defer(self.retry_delay(exc), "retry", message=UNAVAILABLE_MESSAGE, code="instagram_unavailable")

    async def defer(self, deferral: _Defer) -> Outcome:
        values: dict[str, Any] = {"next_attempt_at": utcnow() + timedelta(seconds=deferral.seconds)}
        if deferral.reason in ("retry", "quota"):
            values.update(error=deferral.message, error_code=deferral.code)
        if deferral.reason == "retry":
            attempts = self.post.attempts + 1
            if attempts > self.settings.publish_max_attempts:
                await self.fail(
                    _Fail(
                        deferral.message or UNAVAILABLE_MESSAGE,
                        deferral.code or "instagram_unavailable",
                        retryable=True,
                        retry_after=deferral.seconds,
                    )
                )
                return Outcome("failed")
            values["attempts"] = attempts
        try:
            await self.save(**values)
        except _LostLease:
            return Outcome("busy", self.settings.publish_lease_seconds)
        return Outcome("deferred", deferral.seconds)

    async def fail(self, failure: _Fail) -> None:
        retry_at = utcnow() + timedelta(seconds=failure.retry_after) if failure.retry_after else None
        try:
            await self.save(
                status=PostStatus.FAILED,
                error=failure.message,
                error_code=failure.code,
                retryable=failure.retryable,
                next_attempt_at=retry_at,
                release_assets=not failure.retryable,
            )
        except _LostLease:
            return
        POSTS_FINISHED.labels(self.post.kind, PostStatus.FAILED).inc()
        logger.info("post failed", extra={"post_id": self.post.id, "code": failure.code})

    # --- persistence ---------------------------------------------------------------------------------

    async def save(self, *, release_assets: bool = False, **values: Any) -> None:
        """Write `values` if the lease is still ours (renewing it, or giving it up with a final status),
        in a unit of work of its own."""
        now = utcnow()
        values["updated_at"] = now
        final = values.get("status") in FINAL_STATUSES
        lease = (
            {"lease_until": None, "lease_owner": None}
            if final
            else {"lease_until": now + timedelta(seconds=self.settings.publish_lease_seconds)}
        )
        async with unit_of_work(self.ctx.sessionmaker) as session:
            result = await session.execute(
                update(Post)
                .where(Post.id == self.post.id, Post.lease_owner == self.owner)
                .values(**lease, **values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _LostLease()
            if release_assets:
                await service.release_assets(session, self.post.id)
            for key, value in values.items():
                setattr(self.post, key, value)
            if final:
                # The outbox: the event is committed with the final state, or neither is.
                self.final_event = await post_events.record_final(session, self.post, self.account, self.settings)
        self.released = final

    async def release(self) -> None:
        if self.released:
            return
        async with unit_of_work(self.ctx.sessionmaker) as session:
            await session.execute(
                update(Post)
                .where(Post.id == self.post.id, Post.lease_owner == self.owner)
                .values(lease_until=None, lease_owner=None)
                .execution_options(synchronize_session=False)
            )


def _processing_error(status: ig.ContainerStatus) -> str:
    detail = status.status or "no details given"
    return f"Instagram could not process the media ({detail})"
