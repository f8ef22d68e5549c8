"""The events a post's final states emit (post.published, post.failed, post.cancelled), each recorded in the
transaction that writes the state (`repository.finished` calls these). The one place publishing talks to
`app.events`."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.accounts.models import Account
from app.config import Settings
from app.events.models import Event
from app.events.types import PostCancelled, PostFailed, PostPublished
from app.publishing.models import Post, PostKind, PostStatus

# The kinds as the event payloads name them (app/events/types.py; events know nothing of publishing).
_KIND_NAMES: dict[PostKind, Literal["feed", "story", "reel", "carousel"]] = {
    PostKind.FEED: "feed",
    PostKind.STORY: "story",
    PostKind.REEL: "reel",
    PostKind.CAROUSEL: "carousel",
}


class _PostFields(TypedDict):
    """What every post event says of its post (the payload classes' shared fields)."""

    db_id: int
    account_id: int
    account: str
    kind: Literal["feed", "story", "reel", "carousel"]
    batch_id: str | None


def permalink_hold(settings: Settings) -> timedelta:
    """How long post.published waits for its permalink at most: as long as reading it from Instagram may take
    (it is read right after the publish is recorded). Only a crash in between makes anyone wait that long."""
    return timedelta(seconds=settings.instagram_timeout_seconds + settings.instagram_retry_budget_seconds + 5)


async def _about(session: AsyncSession, post: Post, username: str | None = None) -> _PostFields:
    """`username`: the account's, when the caller has it at hand (a runner holds its account), else read."""
    if username is None:
        username = await session.scalar(select(Account.username).where(Account.id == post.account_id))
    return _PostFields(
        db_id=post.id,
        account_id=post.account_id,
        account=username or "",
        kind=_KIND_NAMES[PostKind(post.kind)],
        batch_id=post.batch_id,
    )


async def record_final(
    session: AsyncSession, post: Post, settings: Settings, username: str | None = None
) -> Event | None:
    """The event of the final state `post` was just given (published or failed) in `session`'s transaction."""
    if post.status == PostStatus.PUBLISHED:
        assert post.published_at is not None
        published = PostPublished(
            **await _about(session, post, username),
            media_id=post.media_id,
            permalink=None,
            published_at=post.published_at,
        )
        # Held until `permalink_known` fills in the permalink, so receivers get it in the one payload.
        return await events.record(
            session, user_id=post.user_id, type="post.published", data=published, hold=permalink_hold(settings)
        )
    if post.status == PostStatus.FAILED:
        failed = PostFailed(
            **await _about(session, post, username),
            code=post.error_code or "publish_failed",
            message=post.error or "Publishing failed",
            retryable=post.retryable,
        )
        return await events.record(session, user_id=post.user_id, type="post.failed", data=failed)
    return None


async def permalink_known(session: AsyncSession, event: Event | None, permalink: str | None) -> None:
    """Complete a held post.published with the permalink (or without one) and send it now."""
    if event is not None and event.type == "post.published":
        await events.complete(session, event, permalink=permalink)


async def record_cancelled(session: AsyncSession, post: Post, reason: str) -> None:
    """post.cancelled, in the transaction that cancels the post."""
    cancelled = PostCancelled(**await _about(session, post), reason=reason)
    await events.record(session, user_id=post.user_id, type="post.cancelled", data=cancelled)
