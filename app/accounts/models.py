"""Connected Instagram accounts (one web-app user, many accounts) and spent OAuth states."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK, JSONType, utcnow


class AccountStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"  # Instagram refused the token: the user must connect again
    DISCONNECTED = "disconnected"  # the user disconnected it; history is kept, the token destroyed


class Account(Base):
    """An Instagram professional account connected by one user of the web app."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("user_id", "ig_user_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    platform: Mapped[str] = mapped_column(String(32), default="instagram")
    ig_user_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    account_type: Mapped[str | None] = mapped_column(String(32))
    profile_picture_url: Mapped[str | None] = mapped_column(Text)
    biography: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    followers_count: Mapped[int | None] = mapped_column(Integer)
    following_count: Mapped[int | None] = mapped_column(Integer)
    media_count: Mapped[int | None] = mapped_column(Integer)
    # Fernet ciphertext of the long-lived token; NULL once disconnected. Never the plain token.
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    token_issued_at: Mapped[datetime | None]
    token_expires_at: Mapped[datetime | None]
    token_refreshed_at: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(20), default=AccountStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(Text)
    disconnected_at: Mapped[datetime | None]
    # Instagram webhooks for this account (`POST /me/subscribed_apps`): "subscribed" or "failed" (retried by the
    # token job), NULL before the first attempt. A failure never fails the connection.
    webhook_subscription: Mapped[str | None] = mapped_column(String(16))
    webhook_subscription_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status != AccountStatus.DISCONNECTED


class OAuthStateUse(Base):
    """A spent OAuth `state` nonce: its primary key makes every state single-use, even under races."""

    __tablename__ = "oauth_state_uses"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_oauth_state_uses_expires_at", "expires_at"),)
