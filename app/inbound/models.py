"""What Instagram and Meta sent us: webhook deliveries as received, and data-deletion requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK, utcnow


class InboundStatus(StrEnum):
    PENDING = "pending"  # stored, not yet processed (the job or the sweeper will)
    PROCESSED = "processed"
    FAILED = "failed"  # processing raised; kept with its error, retried by the sweeper until attempts run out


class InboundDelivery(Base):
    """One signed POST from Instagram, stored byte for byte before it is answered.

    `body_sha256` is unique: Meta re-sends a delivery it thinks failed, and a replay must store nothing new.
    """

    __tablename__ = "inbound_deliveries"
    __table_args__ = (Index("ix_inbound_deliveries_status_received_at", "status", "received_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    body_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=InboundStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class DataDeletionStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


class DataDeletionRequest(Base):
    """A user asked Meta to delete their data; `code` is the confirmation code Meta shows them."""

    __tablename__ = "data_deletion_requests"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    ig_user_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default=DataDeletionStatus.PENDING)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
