"""Uploads: a client's file in storage, what the checks found in it, and which posts use it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, utcnow


class UploadKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class Upload(Base):
    """A file a user uploaded: its bytes are in storage under `storage_key`, never in the database."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # upl_…, unguessable
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    # A video's probe (app.media.video.VideoProbe as JSON): the checks of each kind are made from it again.
    probe: Mapped[dict[str, object] | None] = mapped_column(JSONType)
    storage_key: Mapped[str] = mapped_column(String(255))
    # Kept after publishing (until deleted or expired); otherwise deleted once a post using it is published.
    keep: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PostUpload(Base):
    """Which posts use which upload (an upload is not deleted while an unfinished post needs it)."""

    __tablename__ = "post_uploads"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True, index=True)
