"""Post figures: what Instagram's metrics mean for the seed's shape, and their storage (latest + snapshots)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_for
from app.insights.models import AnalyticsSnapshot, PostAnalytics
from app.insights.schemas import InsightsSnapshot, PostInsights
from app.publishing.models import Post, PostKind, PostStatus

# Instagram's media_product_type for each kind of post (it decides which metrics exist).
PRODUCT_TYPES = {
    PostKind.FEED: "FEED",
    PostKind.CAROUSEL: "CAROUSEL_ALBUM",
    PostKind.REEL: "REELS",
    PostKind.STORY: "STORY",
}


@dataclass
class Figures:
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saved: int | None = None
    reach: int | None = None
    views: int | None = None
    replies: int | None = None
    total_interactions: int | None = None
    engagement_rate: float | None = None
    engagement_basis: str | None = None
    metrics: dict[str, int] = field(default_factory=dict)


def figures_from_metrics(metrics: Mapping[str, int]) -> Figures:
    """Instagram's metrics → figures; engagement rate = total_interactions / reach × 100 (2 decimals).

    `total_interactions` is Instagram's own sum when given, else likes + comments + shares + saved (+ replies).
    """
    parts = [metrics.get(name) for name in ("likes", "comments", "shares", "saved", "replies")]
    interactions = metrics.get("total_interactions")
    if interactions is None and any(p is not None for p in parts):
        interactions = sum(p or 0 for p in parts)
    reach = metrics.get("reach")
    rate = None
    if reach is not None and interactions is not None:
        rate = round(interactions / reach * 100, 2) if reach > 0 else 0.0
    return Figures(
        likes=metrics.get("likes"),
        comments=metrics.get("comments"),
        shares=metrics.get("shares"),
        saved=metrics.get("saved"),
        reach=reach,
        views=metrics.get("views"),
        replies=metrics.get("replies"),
        total_interactions=interactions,
        engagement_rate=rate,
        engagement_basis="reach" if rate is not None else None,
        metrics=dict(metrics),
    )


def _values(figures: Figures) -> dict[str, object]:
    return {
        "likes": figures.likes,
        "comments": figures.comments,
        "shares": figures.shares,
        "saved": figures.saved,
        "reach": figures.reach,
        "views": figures.views,
        "replies": figures.replies,
        "total_interactions": figures.total_interactions,
        "engagement_rate": figures.engagement_rate,
        "engagement_basis": figures.engagement_basis,
        "metrics": figures.metrics,
    }


# Built once: a statement built per call is rebuilt and its cache key recomputed on every read (~150 µs).
_LATEST = select(PostAnalytics).where(PostAnalytics.post_id == bindparam("post_id"))
_HISTORY = (
    select(AnalyticsSnapshot)
    .where(AnalyticsSnapshot.post_id == bindparam("post_id"))
    .order_by(AnalyticsSnapshot.captured_at)
)


async def record(session: AsyncSession, post_id: int, figures: Figures, now: datetime) -> PostAnalytics:
    """Store the latest figures and append a snapshot (the history); the figures as stored.

    An upsert, not a read then an insert: two requests for one post's insights at once both store their figures
    (the later wins), where the second insert used to fail on the post's unique row and answer 500."""
    await record_many(session, [(post_id, figures)], now)
    return PostAnalytics(post_id=post_id, updated_at=now, **_values(figures))


async def record_many(session: AsyncSession, results: Sequence[tuple[int, Figures]], now: datetime) -> None:
    """`record` for many posts in two statements: the latest figures upserted, one snapshot each appended."""
    if not results:
        return
    latest = [{"post_id": post_id, **_values(figures), "updated_at": now} for post_id, figures in results]
    upsert = insert_for(session.get_bind().dialect.name, PostAnalytics).values(latest)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[PostAnalytics.post_id],
            set_={name: upsert.excluded[name] for name in latest[0] if name != "post_id"},
        )
    )
    await session.execute(
        insert(AnalyticsSnapshot),
        [{"post_id": post_id, "captured_at": now, **_values(figures)} for post_id, figures in results],
    )


@dataclass(frozen=True, slots=True)
class DuePost:
    """A published post the background refresh reads (only what the call and the write need)."""

    id: int
    account_id: int
    media_id: str
    product_type: str


async def due_for_refresh(session: AsyncSession, since: datetime, fresh_after: datetime) -> list[DuePost]:
    """Posts published since `since` with a known media id, newest first, whose stored figures are missing
    or older than `fresh_after` (figures fresher than that were just read: by a run killed midway, say)."""
    rows = await session.execute(
        select(Post.id, Post.account_id, Post.media_id, Post.kind)
        .outerjoin(PostAnalytics, PostAnalytics.post_id == Post.id)
        .where(
            Post.status == PostStatus.PUBLISHED,
            Post.published_at > since,
            Post.media_id.is_not(None),
            or_(PostAnalytics.updated_at.is_(None), PostAnalytics.updated_at < fresh_after),
        )
        .order_by(Post.published_at.desc(), Post.id.desc())
    )
    return [
        DuePost(post_id, account_id, media_id, PRODUCT_TYPES[PostKind(kind)])
        for post_id, account_id, media_id, kind in rows
        if media_id is not None
    ]


async def latest(session: AsyncSession, post_id: int) -> PostAnalytics | None:
    return await session.scalar(_LATEST, {"post_id": post_id})


async def history(session: AsyncSession, post_id: int) -> list[AnalyticsSnapshot]:
    rows = await session.scalars(_HISTORY, {"post_id": post_id})
    return list(rows.all())


def to_post_insights(post: Post, stored: PostAnalytics, *, stale_reason: str | None = None) -> PostInsights:
    return PostInsights(
        likes=stored.likes,
        comments=stored.comments,
        shares=stored.shares,
        reach=stored.reach,
        impressions=stored.views,
        saved=stored.saved,
        engagement_rate=stored.engagement_rate,
        views=stored.views,
        replies=stored.replies,
        total_interactions=stored.total_interactions,
        db_id=post.id,
        post_id=post.media_id or "",
        kind=post.kind,
        updated_at=stored.updated_at,
        stale=stale_reason is not None,
        stale_reason=stale_reason,
    )


def to_snapshot(snapshot: AnalyticsSnapshot) -> InsightsSnapshot:
    return InsightsSnapshot(
        captured_at=snapshot.captured_at,
        likes=snapshot.likes,
        comments=snapshot.comments,
        shares=snapshot.shares,
        reach=snapshot.reach,
        impressions=snapshot.views,
        saved=snapshot.saved,
        views=snapshot.views,
        replies=snapshot.replies,
        total_interactions=snapshot.total_interactions,
        engagement_rate=snapshot.engagement_rate,
    )
