"""One run of the state machine: what it holds (the post, its account and token, the lease) and what its
steps share: turning Instagram's errors into verdicts, polling delays, retry backoff, and recording a
publication the moment it is known.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from app import failures
from app import instagram as ig
from app.accounts import service as accounts_service
from app.accounts.models import Account, AccountStatus
from app.config import Settings
from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.failures import Failure
from app.observability.metrics import POSTS_FINISHED, PUBLISH_SECONDS
from app.publishing import events as post_events
from app.publishing import quota, repository
from app.publishing.lease import Lease
from app.publishing.media_items import MediaLinks
from app.publishing.models import FirstCommentStatus, Post, PostStatus
from app.publishing.outcomes import Fail, Mode, Published, Wait
from app.publishing.schemas import stored_request

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 900.0


@dataclass
class Run:
    """The state of one run; `lease.post` is the post as this runner last wrote it."""

    ctx: AppContext
    account: Account | None
    lease: Lease
    mode: Mode
    token: str = ""

    @property
    def post(self) -> Post:
        return self.lease.post

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def instagram(self) -> ig.InstagramClient:
        return self.ctx.instagram

    @property
    def ig_user_id(self) -> str:
        assert self.account is not None
        return self.account.ig_user_id


def usable_token(run: Run) -> str | Fail:
    """The account's token, or why the post cannot be published with it (nothing is sent to Instagram)."""
    account = run.account
    if account is None or account.status == AccountStatus.DISCONNECTED or not account.access_token_encrypted:
        return Fail(Failure.of(failures.ACCOUNT_DISCONNECTED))
    if account.status == AccountStatus.NEEDS_REAUTH:
        return Fail(Failure.of(failures.REAUTH_REQUIRED))
    token = accounts_service.access_token(account, run.ctx.cipher)
    assert token is not None
    return token


def retry_delay(run: Run, exc: ig.InstagramError | None = None) -> float:
    """How long to wait before trying again: what Instagram asked for, else a jittered exponential backoff."""
    if exc is not None and exc.retry_after:
        return float(exc.retry_after)
    base = run.settings.publish_retry_base_seconds
    delay: float = min(MAX_RETRY_DELAY_SECONDS, base * 2 ** max(0, run.post.attempts - 1))
    return delay * (0.5 + random.random() / 2)


def poll_wait(run: Run) -> Wait | Fail:
    """The container is still processing: look again later, less often as time goes by (or give up)."""
    settings = run.settings
    started = run.post.container_created_at or utcnow()
    elapsed = (utcnow() - started).total_seconds()
    if elapsed > settings.container_poll_timeout_seconds:
        minutes = int(settings.container_poll_timeout_seconds // 60)
        message = f"Instagram did not finish processing the media within {minutes} minutes"
        return Fail(Failure.of("processing_timeout", message=message))
    # Look again after a quarter of the time it has taken so far: quickly for an image or a short clip,
    # about once a minute (as Meta advises) for a long video, never more than the cap.
    delay = min(settings.container_poll_max_interval_seconds, max(settings.container_poll_initial_seconds, elapsed / 4))
    return Wait(delay, "poll")


async def verdict_for(run: Run, exc: ig.InstagramError) -> Wait | Fail:
    """What an Instagram error met before publishing means for the post (nothing was published, so waiting
    and trying again is safe). A dead token also marks the account."""
    failed = failures.from_instagram(exc)
    if failed.code == failures.REAUTH_REQUIRED:
        assert run.account is not None
        await accounts_service.mark_needs_reauth(run.ctx.sessionmaker, run.account.id, exc.message)
    if failed.code == failures.QUOTA_EXCEEDED:
        return await quota.full(run.ctx.sessionmaker, run.post.account_id)
    if failed.code in (failures.RATE_LIMITED, failures.UNAVAILABLE):
        return Wait(retry_delay(run, exc), "retry", failed)
    return Fail(failed)


def our_media_unreachable(run: Run, exc: ig.InstagramError, urls: Sequence[str], links: MediaLinks) -> Wait | None:
    """Instagram could not download a container's media, and this service serves all of it (prepared images on
    PUBLIC_BASE_URL, uploads at their signed URLs): the cause is the service's own outage (a database restart
    answers /media with 503) or an address Instagram cannot reach, never the user's media, which was downloaded
    and checked before. Nothing was created, so trying again later is safe, within PUBLISH_MAX_ATTEMPTS.
    None for any other error or media."""
    if not isinstance(exc, ig.MediaDownloadFailed) or not urls or not all(links.serves(url) for url in urls):
        return None
    # The host only: the path holds the asset's secret id or the upload's signature.
    host = urlsplit(urls[0]).hostname or "its address"
    logger.warning(
        "instagram could not download the post's media from us", extra={"post_id": run.post.id, "host": host}
    )
    return Wait(retry_delay(run), "retry", Failure.of(failures.MEDIA_UNREACHABLE, detail=host))


async def container_error(run: Run, status: ig.ContainerStatus, urls: Sequence[str], links: MediaLinks) -> Wait | Fail:
    """A container ended in ERROR (it is forgotten by then), read as the error its subcode stands for. Media of
    ours that Instagram could not download (2207052), and Instagram failing for now (a download timing out, server,
    create and upload errors: Meta's advice is to make the container again), are tried again with a new container
    within PUBLISH_MAX_ATTEMPTS; anything else is about the media itself and final, in Instagram's words."""
    exc = status.error()
    if (wait := our_media_unreachable(run, exc, urls, links)) is not None:
        return wait
    if isinstance(exc, ig.TransientError):
        logger.warning("instagram failed processing the media", extra={"post_id": run.post.id, "subcode": exc.subcode})
        return await verdict_for(run, exc)
    return Fail(Failure.of("media_processing_failed", detail=status.status, retryable=False))


async def record_published(run: Run, media_id: str | None) -> Published:
    """Record the publication at once (ending the lease and dropping the prepared media, with its held
    post.published event); only then look for the permalink, best effort, and complete the event with it."""
    post = run.post
    now = utcnow()
    comment_due = None
    if post.first_comment_status == FirstCommentStatus.PENDING:
        delay = stored_request(post.kind, post.request, batch=post.batch_id is not None).first_comment_delay()
        comment_due = now + timedelta(seconds=delay)
    event = await run.lease.save(
        status=PostStatus.PUBLISHED,
        first_comment_due_at=comment_due,
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
    permalink = await _read_permalink(run, media_id)
    async with unit_of_work(run.ctx.sessionmaker) as session:
        if permalink:
            await repository.set_permalink(session, post.id, permalink)
        # Sent now, with the permalink or without: nobody waits for the hold to run out.
        await post_events.permalink_known(session, event, permalink)
    if permalink:
        post.permalink = permalink
    return Published(media_id)


async def _read_permalink(run: Run, media_id: str | None) -> str | None:
    """The published media's permalink (None when Instagram does not give it now)."""
    if media_id is None:
        return None
    try:
        media = await run.instagram.get_media(run.token, media_id)
    except ig.InstagramError as exc:
        logger.info("permalink not available yet", extra={"post_id": run.post.id, "error": str(exc)})
        return None
    return media.permalink


async def record_failed(run: Run, failure: Failure) -> None:
    """Write the failure (ending the lease); non-retryable failures drop the prepared media at once."""
    retry_at = utcnow() + timedelta(seconds=failure.retry_after) if failure.retry_after else None
    await run.lease.save(
        status=PostStatus.FAILED,
        error=failure.message,
        error_code=failure.code,
        retryable=failure.retryable,
        next_attempt_at=retry_at,
        release_assets=not failure.retryable,
    )
    POSTS_FINISHED.labels(run.post.kind, PostStatus.FAILED).inc()
    logger.info("post failed", extra={"post_id": run.post.id, "code": failure.code})
