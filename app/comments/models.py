"""Comments and mentions heard from Instagram (webhooks) or read from it, one copy per connected account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK, JSONType, utcnow


class Comment(Base):
    """A comment (or a reply) on media of a connected account.

    Two web-app users may connect the same Instagram account: each account row gets its own copy, so ownership is
    always "the comment's account belongs to the caller", never a bare Instagram id.
    """

    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("account_id", "ig_comment_id"),
        Index("ix_comments_account_id_media_id", "account_id", "media_id"),
        Index("ix_comments_ig_comment_id", "ig_comment_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    ig_comment_id: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64))  # the top-level comment of a reply
    text: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(255))
    from_id: Mapped[str | None] = mapped_column(String(64))
    commented_at: Mapped[datetime | None]
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None]  # deleted through this service or seen gone on Instagram
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Mention(Base):
    """The account was @-mentioned in a comment or a caption of someone else's media."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("account_id", "media_id", "comment_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[str] = mapped_column(String(64))
    # "" when the mention is in the media's caption: part of the unique key, so it is never NULL.
    comment_id: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(255))
    mentioned_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # whatever else the webhook carried
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
