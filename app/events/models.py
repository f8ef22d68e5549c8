"""The outbox (events), webhook endpoints and their deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK, JSONType, utcnow


class Event(Base):
    """Something that happened to a user's posts or accounts, written in the same transaction as the change."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user_id_position", "user_id", "position"),
        Index("ix_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # `evt_…`: the payload's `id` and the `webhook-id` header, the same on every retry (receivers dedupe on it).
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Deliveries of events with the same key go out in order, per endpoint (e.g. "post:12").
    ordering_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # While set and in the future, `data` may still be completed (a permalink) and nothing is sent or listed.
    held_until: Mapped[datetime | None]
    # The feed's order, given when the feed is read: ids are allocated before commit, so they can commit out
    # of order; positions are handed out under a per-user lock to committed events only, so a cursor never
    # skips an event that committed late.
    position: Mapped[int | None] = mapped_column(BigInteger)


class WebhookEndpoint(Base):
    """A URL of the user's that receives signed events."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    # Event types, or ["*"] for all of them.
    events: Mapped[list[str]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    # Fernet ciphertexts (TOKEN_ENCRYPTION_KEY) of `whsec_…` secrets; the previous one signs until it expires.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    # The first failure since the last success: past WEBHOOK_DISABLE_AFTER_SECONDS the endpoint is disabled.
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt, or for the events of its post before it
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every retry failed; `redeliver` sends it again


class WebhookDelivery(Base):
    """One event to one endpoint: its attempts and their outcome."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_ordering_key", "endpoint_id", "ordering_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    ordering_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    # Attempts started (a claim counts one, so an attempt cut short by a crash is counted too).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    # A sender owns the delivery until then; a crashed sender's lease runs out and the delivery is sent again.
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
