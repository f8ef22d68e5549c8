"""Storing a verified delivery exactly once, before it is answered."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import insert_for, utcnow
from app.inbound.models import InboundDelivery, InboundStatus


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def store_delivery(connection: AsyncConnection, body: bytes) -> tuple[int, bool]:
    """Insert the raw body unless the same bytes were stored before; `(id, stored now)`.

    Meta re-sends a delivery it believes failed, byte for byte: one INSERT … ON CONFLICT DO NOTHING makes a
    replay (even two copies racing each other) store nothing new, without a read first.
    """
    digest = body_hash(body)
    values: dict[str, Any] = {
        "body_sha256": digest,
        "body": body,
        "received_at": utcnow(),
        "status": InboundStatus.PENDING,
        "attempts": 0,
    }
    statement = (
        insert_for(connection.dialect.name, InboundDelivery)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["body_sha256"])
        .returning(InboundDelivery.id)
    )
    inserted = await connection.scalar(statement)
    if inserted is not None:
        return int(inserted), True
    existing = await connection.scalar(select(InboundDelivery.id).where(InboundDelivery.body_sha256 == digest))
    assert existing is not None  # the conflict was with this very row
    return int(existing), False
