"""An unknown outcome is reconciled, never retried blindly (DESIGN §4).

Once `publish_sent_at` is set and no media id is known — an error or a timeout after `media_publish` was
sent, or a runner that died meanwhile — the container is asked first:
- PUBLISHED: done, never publish again; the media id is looked for among the account's recent media;
- FINISHED: the publish may still be under way at Instagram, so look again after
  PUBLISH_RECONCILE_GRACE_SECONDS; only then is publishing again safe;
- IN_PROGRESS: still processing, poll;
- ERROR or EXPIRED: nothing was published; start over with a new container.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from app import instagram as ig
from app.db import utcnow
from app.publishing import repository, runs
from app.publishing.models import PostKind, PostStatus
from app.publishing.outcomes import Verdict, Wait
from app.publishing.runs import Run

logger = logging.getLogger(__name__)

# How far back (before the container existed) a media item may be dated and still be ours.
DISCOVERY_SKEW = timedelta(minutes=2)
_PRODUCT_TYPES = {PostKind.REEL: "REELS", PostKind.STORY: "STORY"}


async def unknown_outcome(run: Run) -> Verdict | None:
    """Settle an earlier media_publish whose outcome is unknown: a verdict, or None when nothing was
    published and the run may go on (containers forgotten if they are dead)."""
    post = run.post
    if post.container_id is None:
        await run.lease.save(publish_sent_at=None)
        return None
    try:
        status = await run.instagram.get_container_status(run.token, post.container_id)
    except ig.TokenInvalid as exc:
        # Cannot look. publish_sent_at stays set, so a retry after reconnecting reconciles first.
        return await runs.verdict_for(run, exc)
    except ig.InstagramError as exc:
        return Wait(runs.retry_delay(run, exc), "reconcile")
    if status.status_code == "PUBLISHED":
        logger.info("unknown publish outcome reconciled: the container is published", extra={"post_id": post.id})
        return await published_without_answer(run)
    if status.status_code == "FINISHED":
        assert post.publish_sent_at is not None
        waited = (utcnow() - post.publish_sent_at).total_seconds()
        grace = run.settings.publish_reconcile_grace_seconds
        if waited < grace:
            # The publish may still be under way at Instagram: look again before doing anything.
            return Wait(grace - waited, "reconcile")
        await run.lease.save(publish_sent_at=None)
        return None
    if status.status_code == "IN_PROGRESS":
        return runs.poll_wait(run)
    await forget_containers(run)
    return None


async def published_without_answer(run: Run) -> Verdict:
    """The container is PUBLISHED but Instagram's answer (the media id) was lost: find it, then record."""
    return await runs.record_published(run, await discover_media_id(run))


async def discover_media_id(run: Run) -> str | None:
    """Find the media a PUBLISHED container became, when the publish answer was lost.

    Never "the newest media": only an item published after the container was made, with this post's
    caption and product type, that no other post of ours claims — and only if exactly one matches.
    """
    post = run.post
    try:
        if post.kind == PostKind.STORY:
            candidates = await run.instagram.list_stories(run.token, run.ig_user_id)
        else:
            candidates = (await run.instagram.list_media(run.token, run.ig_user_id, limit=50)).items
    except ig.InstagramError as exc:
        logger.warning("media id discovery failed", extra={"post_id": post.id, "error": str(exc)})
        return None
    since = (post.container_created_at or post.created_at) - DISCOVERY_SKEW
    product = _PRODUCT_TYPES.get(PostKind(post.kind), "FEED")
    matches = [
        m.id
        for m in candidates
        if (m.timestamp is None or m.timestamp >= since)
        and (m.caption or None) == (post.caption or None)
        and (m.media_product_type or product).upper() == product
    ]
    if not matches:
        return None
    async with run.ctx.sessionmaker() as session:
        claimed = await repository.claimed_media_ids(session, post.account_id, matches)
    unclaimed = [media_id for media_id in matches if media_id not in claimed]
    return unclaimed[0] if len(unclaimed) == 1 else None


async def forget_containers(run: Run) -> None:
    """The containers are dead (ERROR, EXPIRED, missing): nothing was published; the next step makes new ones."""
    await run.lease.save(
        container_id=None,
        container_created_at=None,
        children=[],
        publish_sent_at=None,
        status=PostStatus.PENDING,
    )
