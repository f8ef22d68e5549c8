"""The publishing state machine (DESIGN §4): moves one post forward, publishing it at most once.

    scheduled → pending → container_created → published | failed        (+ cancelled)

`advance_post` is the one way a post moves, whoever runs it (a request, the worker, the sweeper, a retry).
A run is a list of steps; each returns a verdict (published, wait, fail) or None to go on, and the run ends
by writing its verdict. The rules it keeps, whatever crashes and wherever:
- One runner at a time (`lease`); no transaction is held open across a call to Instagram.
- The container id is saved as soon as Instagram returns it, before any polling (carousel items one by one).
- `publish_sent_at` is saved *before* `media_publish` is sent, and the media id right after it returns.
- When `publish_sent_at` is set and no media id is known, the outcome is unknown and is reconciled
  (`reconcile`): `media_publish` is never retried blindly.
- Waiting (video processing, a scheduled time, a full quota, a retry after throttling) is a deferral the
  caller turns into a durable delayed job (`arq.Retry(defer=...)`), never a sleeping worker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from app import instagram as ig
from app.context import AppContext
from app.db import utcnow
from app.failures import Failure
from app.publishing import containers, first_comment, lease, quota, reconcile, runs, uploaded
from app.publishing.lease import Claimed, Lease, LeaseLost
from app.publishing.media_items import MediaLinks
from app.publishing.models import PostStatus
from app.publishing.outcomes import Fail, Mode, Outcome, Published, Verdict, Wait
from app.publishing.runs import Run
from app.publishing.schemas import stored_request

logger = logging.getLogger(__name__)

# An EXPIRED container is re-created, but not forever.
CONTAINER_ROUNDS = 3

__all__ = ["Mode", "Outcome", "advance_post", "run_claimed"]


async def advance_post(ctx: AppContext, post_id: int, mode: Mode) -> Outcome:
    """Take the post as far as it can go now; say whether it is published, failed or must be resumed."""
    seconds = ctx.settings.publish_lease_seconds
    claimed = await lease.claim(ctx.sessionmaker, post_id, seconds)
    if isinstance(claimed, Outcome):
        return claimed
    async with lease.kept_alive(ctx.sessionmaker, claimed.owner, [post_id], seconds):
        return await run_claimed(ctx, claimed, mode)


async def run_claimed(ctx: AppContext, claimed: Claimed, mode: Mode) -> Outcome:
    """Run a post this runner already holds, and write where the run ended."""
    username = claimed.account.username if claimed.account else None
    held = Lease(ctx.sessionmaker, claimed.post, claimed.owner, ctx.settings, username)
    run = Run(ctx, claimed.account, held, mode)
    try:
        return await _settle(run, await _steps(run))
    except LeaseLost:
        return Outcome("busy", ctx.settings.publish_lease_seconds)
    finally:
        await held.release()


async def _steps(run: Run) -> Verdict:
    post = run.post
    if post.status == PostStatus.SCHEDULED and post.scheduled_at:
        return Wait(max(0.0, (post.scheduled_at - utcnow()).total_seconds()), "schedule")
    token = runs.usable_token(run)
    if isinstance(token, Fail):
        return token
    run.token = token
    if post.publish_sent_at is not None and (verdict := await reconcile.unknown_outcome(run)) is not None:
        return verdict
    for _ in range(CONTAINER_ROUNDS):
        if (verdict := await _ensure_container(run)) is not None:
            return verdict
        status = await _container_status(run)
        if not isinstance(status, ig.ContainerStatus):
            return status
        if status.status_code == "EXPIRED":
            await reconcile.forget_containers(run)
            continue
        if status.status_code == "PUBLISHED":
            return await reconcile.published_without_answer(run)
        if status.status_code == "ERROR":
            await reconcile.forget_containers(run)
            return await runs.container_error(run, status, *await _media_of(run))
        if status.status_code == "IN_PROGRESS":
            return runs.poll_wait(run)
        if (verdict := await _publish(run)) is not None:
            return verdict
    return Fail(Failure.of("container_expired"))


async def _container_spec(run: Run) -> tuple[containers.Container, MediaLinks]:
    """The post's container as Instagram is asked for it, and the links to the media this service serves."""
    post = run.post
    request = stored_request(post.kind, post.request, batch=post.batch_id is not None)
    links = await uploaded.media_links(run.ctx, post.media)
    return request.container(post.media, post.caption, links), links


async def _media_of(run: Run) -> tuple[Sequence[str], MediaLinks]:
    """The media URLs the post's container gives Instagram, and the links to what this service serves."""
    spec, links = await _container_spec(run)
    return spec.media_urls, links


async def _ensure_container(run: Run) -> Verdict | None:
    """Create the post's container unless it has one, and save its id at once."""
    post = run.post
    if post.container_id is not None:
        return None
    spec, links = await _container_spec(run)
    try:
        if isinstance(spec, containers.Carousel):
            if (verdict := await _ensure_items(run, spec, links)) is not None:
                return verdict
            container_id = await spec.create(run.instagram, run.token, run.ig_user_id, list(post.children))
        else:
            container_id = await spec.create(run.instagram, run.token, run.ig_user_id)
    except ig.InstagramError as exc:
        return runs.our_media_unreachable(run, exc, spec.media_urls, links) or await runs.verdict_for(run, exc)
    await run.lease.save(container_id=container_id, container_created_at=utcnow(), status=PostStatus.CONTAINER_CREATED)
    return None


async def _ensure_items(run: Run, carousel: containers.Carousel, links: MediaLinks) -> Verdict | None:
    """Carousel items: create the missing ones (each saved as it is made), then wait until all are ready.
    Instagram's errors propagate to the caller."""
    children = list(run.post.children)
    for item in carousel.items[len(children) :]:
        children.append(await item.create(run.instagram, run.token, run.ig_user_id))
        if run.post.container_created_at is None:
            await run.lease.save(children=list(children), container_created_at=utcnow())
        else:
            await run.lease.save(children=list(children))
    for index, child in enumerate(children):
        status = await run.instagram.get_container_status(run.token, child)
        if status.status_code == "ERROR":
            await run.lease.save(children=[], container_created_at=None)
            # The failing item's own media (children are made in the items' order).
            urls = carousel.items[index].media_urls if index < len(carousel.items) else ()
            return await runs.container_error(run, status, urls, links)
        if status.status_code == "EXPIRED":
            await run.lease.save(children=[], container_created_at=None)
            return Wait(0.1, "poll")
        if status.status_code == "IN_PROGRESS":
            return runs.poll_wait(run)
    return None


async def _container_status(run: Run) -> ig.ContainerStatus | Verdict:
    assert run.post.container_id is not None
    try:
        return await run.instagram.get_container_status(run.token, run.post.container_id)
    except ig.ContainerNotFound:
        await reconcile.forget_containers(run)
        return Wait(0.1, "poll")
    except ig.InstagramError as exc:
        return await runs.verdict_for(run, exc)


async def _publish(run: Run) -> Verdict | None:
    """Read the quota, then publish: `publish_sent_at` first, the media id right after. None when the
    publish certainly did not happen and the run should go round again (new container or new attempt)."""
    post = run.post
    assert post.container_id is not None
    try:
        if (wait := await quota.check(run.ctx, run.token, run.ig_user_id, post.account_id)) is not None:
            return wait
    except ig.InstagramError as exc:
        return await runs.verdict_for(run, exc)
    await run.lease.save(publish_sent_at=utcnow())
    try:
        media_id = await run.instagram.publish_container(run.token, run.ig_user_id, post.container_id)
    except ig.ContainerNotReady:
        await run.lease.save(publish_sent_at=None)
        return runs.poll_wait(run)
    except (ig.TokenInvalid, ig.PermissionDenied, ig.RateLimited, ig.PublishingQuotaExceeded) as exc:
        # Refused before any work (who we are, how often we call, the quota): certainly nothing was
        # published. A spam block (4 / 2207051) is not one of these: it is PublishBlocked and is reconciled.
        await run.lease.save(publish_sent_at=None)
        return await runs.verdict_for(run, exc)
    except ig.InstagramUnavailable as exc:
        if not exc.request_sent:
            await run.lease.save(publish_sent_at=None)
            return await runs.verdict_for(run, exc)
        logger.warning("publish outcome unknown, reconciling", extra={"post_id": post.id, "error": str(exc)})
        return await reconcile.unknown_outcome(run)
    except ig.InstagramError as exc:
        # Anything else after the request left may hide a publish (a lost answer, a spam block...).
        logger.warning("publish answered an error, reconciling", extra={"post_id": post.id, "error": str(exc)})
        return await reconcile.unknown_outcome(run)
    return await runs.record_published(run, media_id)


async def _settle(run: Run, verdict: Verdict) -> Outcome:
    """Write where the run ended. A request answers throttling and a full quota at once (429) instead of
    leaving a post to publish behind the client's back; POST /posts/{id}/retry or the same
    Idempotency-Key resumes it."""
    if isinstance(verdict, Published):
        await first_comment.after_publish(run.ctx, run.post)
        return Outcome("published", post=run.post)
    if isinstance(verdict, Fail):
        await runs.record_failed(run, verdict.failure)
        return Outcome("failed", post=run.post)
    # A retry counts as an attempt; polling, schedules, reconciling and a full quota do not.
    attempts = run.post.attempts + 1 if verdict.reason == "retry" else run.post.attempts
    answered_now = run.mode is Mode.INLINE and verdict.reason in ("retry", "quota")
    exhausted = verdict.reason == "retry" and attempts > run.settings.publish_max_attempts
    if verdict.failure is not None and (answered_now or exhausted):
        failure = Failure.of(verdict.failure.code, message=verdict.failure.message, retry_after=verdict.seconds)
        await runs.record_failed(run, failure)
        return Outcome("failed", post=run.post)
    return await _defer(run, verdict, attempts)


async def _defer(run: Run, wait: Wait, attempts: int) -> Outcome:
    """Hand the post back to the queue until then (giving the lease up in the same write)."""
    next_attempt_at = utcnow() + timedelta(seconds=wait.seconds)
    if wait.failure is not None:
        await run.lease.save(
            next_attempt_at=next_attempt_at,
            error=wait.failure.message,
            error_code=wait.failure.code,
            attempts=attempts,
            give_up=True,
        )
    else:
        await run.lease.save(next_attempt_at=next_attempt_at, give_up=True)
    return Outcome("deferred", wait.seconds, post=run.post)
