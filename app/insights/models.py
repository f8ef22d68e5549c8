"""Post analytics: the latest figures per post, and a snapshot each time they are read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK, JSONType, utcnow


class _Figures:
    """The figures both tables keep (None: the metric does not exist for the post's kind)."""

    likes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    shares: Mapped[int | None] = mapped_column(Integer)
    saved: Mapped[int | None] = mapped_column(Integer)
    reach: Mapped[int | None] = mapped_column(Integer)
    views: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    total_interactions: Mapped[int | None] = mapped_column(Integer)
    engagement_rate: Mapped[float | None] = mapped_column(Float)
    engagement_basis: Mapped[str | None] = mapped_column(String(32))
    # Every metric Instagram answered, by name, for what the columns above do not cover.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class PostAnalytics(_Figures, Base):
    """The latest figures of a published post."""

    __tablename__ = "post_analytics"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalyticsSnapshot(_Figures, Base):
    """The figures of a post at one moment: the history behind /insights/history."""

    __tablename__ = "analytics_snapshots"
    __table_args__ = (Index("ix_analytics_snapshots_post_id_captured_at", "post_id", "captured_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
