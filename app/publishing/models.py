"""Posts (the publishing state machine's rows), prepared media assets and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.db import Base, BigIntPK, JSONType, utcnow
from app.publishing.media_items import MEDIA_ITEMS, MediaItem


class PostKind(StrEnum):
    FEED = "feed"
    STORY = "story"
    REEL = "reel"
    CAROUSEL = "carousel"


class FirstCommentStatus(StrEnum):
    """Where a post's first comment is: waiting (for the publication, its delay, or a retry), posted, failed."""

    PENDING = "pending"
    POSTED = "posted"
    FAILED = "failed"


class PostStatus(StrEnum):
    """scheduled → pending → container_created → published | failed, and cancelled (DESIGN §4)."""

    SCHEDULED = "scheduled"
    PENDING = "pending"
    CONTAINER_CREATED = "container_created"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (PostStatus.SCHEDULED, PostStatus.PENDING, PostStatus.CONTAINER_CREATED)
FINAL_STATUSES = (PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.CANCELLED)


class MediaItemsJSON(TypeDecorator[list[MediaItem]]):
    """`posts.media`: plain JSON in the database (JSONB on PostgreSQL), typed media items in the code."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(postgresql.JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: list[MediaItem] | None, dialect: Dialect) -> object:
        return None if value is None else MEDIA_ITEMS.dump_python(value, mode="json", exclude_none=True)

    def process_result_value(self, value: object, dialect: Dialect) -> list[MediaItem] | None:
        return None if value is None else MEDIA_ITEMS.validate_python(value)


class Post(Base):
    """One publication to one account. The row is the truth; jobs only move it forward."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_posts_user_id_created_at", "user_id", "created_at"),
        Index("ix_posts_first_comment_status_first_comment_due_at", "first_comment_status", "first_comment_due_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    caption: Mapped[str | None] = mapped_column(Text)
    # What the client asked for, as JSON: read back as its request model (`schemas.stored_request`).
    request: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    # What Instagram is given: prepared media (URLs served by this service or the original video URLs).
    media: Mapped[list[MediaItem]] = mapped_column(MediaItemsJSON, default=list)
    # Carousel children containers, saved one by one as they are created.
    children: Mapped[list[str]] = mapped_column(JSONType, default=list)
    container_id: Mapped[str | None] = mapped_column(String(64))
    container_created_at: Mapped[datetime | None]
    # Set just before media_publish is sent: from then on the outcome must be reconciled, never assumed.
    publish_sent_at: Mapped[datetime | None]
    media_id: Mapped[str | None] = mapped_column(String(64))
    permalink: Mapped[str | None] = mapped_column(Text)
    scheduled_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    retryable: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    # A runner owns the post until then; a crashed runner's lease simply runs out.
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    # The first comment, a step after publishing (publishing/first_comment.py): null when none was asked for.
    first_comment_status: Mapped[str | None] = mapped_column(String(16))
    first_comment_id: Mapped[str | None] = mapped_column(String(64))
    first_comment_error: Mapped[str | None] = mapped_column(Text)
    first_comment_due_at: Mapped[datetime | None]
    # Set just before the comment is sent: from then on, Instagram's comments are read before sending again.
    first_comment_sent_at: Mapped[datetime | None]
    first_comment_attempts: Mapped[int] = mapped_column(Integer, default=0)
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True)
    idempotency_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("idempotency_keys.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MediaAsset(Base):
    """A prepared image served at PUBLIC_BASE_URL/media/<id> for Instagram to fetch; deleted after use."""

    __tablename__ = "media_assets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # unguessable
    content_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PostAsset(Base):
    """Which posts use which asset (a batch shares one asset among many posts)."""

    __tablename__ = "post_assets"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(
        ForeignKey("media_assets.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IdempotencyKey(Base):
    """A client's Idempotency-Key: the request it first came with, and the answer to replay."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    endpoint: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[object | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
