"""The run phase of a publishing request: start the recorded posts, and wait for them as long as it is worth it.

Feed posts, stories and carousels run the state machine inside the request; reels, scheduled posts and
`Prefer: respond-async` requests are handed to the job queue. A post that must wait (video processing, a
grace period) continues as a deferred job while the request waits up to PUBLISH_WAIT_SECONDS /
REEL_WAIT_SECONDS for it. Jobs are only ever enqueued for posts already committed.

Once recorded, a post exists whatever happens to the job queue: when Redis cannot be reached, the post is
answered as if queued (202 with its `db_id`) and the sweepers enqueue it once Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.outages import which_dependency
from app.publishing import asset_queries, repository, uploaded
from app.publishing.lease import Claimed, kept_alive
from app.publishing.media_items import asset_ids
from app.publishing.models import FINAL_STATUSES, Post, PostKind, PostStatus
from app.publishing.outcomes import Mode
from app.publishing.preparation import prepare_or_refuse
from app.publishing.schemas import stored_request
from app.publishing.state_machine import advance_post, run_claimed

logger = logging.getLogger(__name__)

PUBLISH_JOB = "publish_post"
# Prepared images live this long past the post's time; a failed post re-prepares them on retry if gone.
ASSET_GRACE = timedelta(days=2)


def job_id(post_id: int) -> str:
    """One arq job id per post: a second enqueue while one is queued or running is refused."""
    return f"publish:{post_id}"


def runs_inline(kind: str, *, respond_async: bool) -> bool:
    """Whether a request publishes posts of this kind itself (a reel is always the worker's)."""
    return kind != PostKind.REEL and not respond_async


async def enqueue(ctx: AppContext, post_id: int, *, at: datetime | None = None) -> bool:
    return await ctx.jobs.enqueue(PUBLISH_JOB, post_id, job_id=job_id(post_id), defer_until=at)


async def hand_over(ctx: AppContext, post_id: int, *, at: datetime | None = None) -> bool:
    """Give a recorded post to the job queue; False when Redis is unreachable. The post is safe in the
    database either way: the sweepers enqueue it once Redis answers again (every 5 s and every minute,
    and as soon as a worker reconnects), so the request answers for the stored post instead of failing."""
    try:
        await enqueue(ctx, post_id, at=at)
    except Exception as exc:
        if which_dependency(exc) != "redis":
            raise
        logger.warning("job queue unreachable: the sweeper will enqueue the post", extra={"post_id": post_id})
        return False
    return True


async def start(
    ctx: AppContext,
    posts: Sequence[Post],
    *,
    respond_async: bool,
    claims: Mapping[int, Claimed] | None = None,
) -> list[Post]:
    """Start the posts (running those in `claims` without claiming them again) and wait as the kind asks.

    Returns the posts as they are now: a post finished here is the runner's copy, one that went to the
    queue and was waited for is read again, and one left waiting (scheduled, or asked asynchronously)
    is as it was recorded.
    """
    claims = claims or {}
    semaphore = asyncio.Semaphore(ctx.settings.batch_concurrency)
    waiting: list[int] = []

    async def start_one(post: Post) -> Post | None:
        """The post as it is after starting, or None when it must be read again after waiting.
        A post the queue could not take is not waited for: nothing would run it meanwhile."""
        if post.status == PostStatus.SCHEDULED:
            await hand_over(ctx, post.id, at=post.scheduled_at)
            return post
        if not runs_inline(post.kind, respond_async=respond_async):
            if not await hand_over(ctx, post.id):
                return post
            waiting.append(post.id)
            return post if respond_async else None
        async with semaphore:
            claimed = claims.get(post.id)
            outcome = await (
                run_claimed(ctx, claimed, Mode.INLINE) if claimed else advance_post(ctx, post.id, Mode.INLINE)
            )
        if outcome.kind in ("deferred", "busy"):
            if await hand_over(ctx, post.id, at=utcnow() + timedelta(seconds=outcome.defer_seconds)):
                waiting.append(post.id)
            return None
        return outcome.post

    # The posts the request holds (all under one owner: the record phase's) keep their leases while they
    # wait for their turn (a batch bigger than BATCH_CONCURRENCY) and while they run.
    owner = next(iter(claims.values())).owner if claims else ""
    async with kept_alive(ctx.sessionmaker, owner, list(claims), ctx.settings.publish_lease_seconds):
        started = await asyncio.gather(*(start_one(post) for post in posts))
    if waiting and not respond_async:
        reel = any(post.kind == PostKind.REEL for post in posts)
        budget = ctx.settings.reel_wait_seconds if reel else ctx.settings.publish_wait_seconds
        await wait_until_final(ctx, waiting, budget)
    stale = [post.id for post, now in zip(posts, started, strict=True) if now is None]
    if not stale:
        return [now for now in started if now is not None]
    async with ctx.sessionmaker() as session:
        fresh = {post.id: post for post in await repository.get_many(session, stale)}
    return [now if now is not None else fresh.get(post.id, post) for post, now in zip(posts, started, strict=True)]


async def wait_until_final(ctx: AppContext, post_ids: Sequence[int], timeout: float) -> None:
    """Poll the database (the truth) until every post is final or the time is up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.05
    pending = set(post_ids)
    while pending and loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(0.5, delay * 1.5)
        async with ctx.sessionmaker() as session:
            states = await repository.statuses(session, list(pending))
        pending = {post_id for post_id, status in states.items() if status not in FINAL_STATUSES}


async def reset_for_retry(ctx: AppContext, post: Post) -> bool:
    """Put a failed post back in line, its media prepared again if the prepared copies are gone (before any
    container exists); False when it is no longer failed."""
    prepared = None
    if post.container_id is None:
        async with ctx.sessionmaker() as session:
            present = await asset_queries.assets_present(session, asset_ids(post.media))
        if not present:
            request = stored_request(post.kind, post.request, batch=post.batch_id is not None)
            needs = request.media_needed()
            async with ctx.sessionmaker() as session:
                uploads = await uploaded.find(session, post.user_id, needs, ctx.uploads)
            prepared = await prepare_or_refuse(ctx.media, needs, uploads)
    async with unit_of_work(ctx.sessionmaker) as session:
        if prepared is not None:
            asset_queries.add_assets(session, prepared.assets(expires_at=utcnow() + ASSET_GRACE))
            await session.flush()
            asset_queries.link_assets(session, post.id, list(prepared.images))
        if await repository.reset_failed(session, post, prepared.items if prepared else None):
            return True
        await session.rollback()
        return False


async def run_post(ctx: AppContext, post_id: int, *, respond_async: bool) -> Post:
    """Start (or restart) one existing post the way its kind is published, and wait as a create would."""
    async with ctx.sessionmaker() as session:
        post = await repository.get(session, post_id)
    assert post is not None
    (result,) = await start(ctx, [post], respond_async=respond_async)
    return result
