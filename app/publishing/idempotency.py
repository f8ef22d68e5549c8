"""Idempotency-Key on publishing POSTs: a retried request never publishes twice.

- The key row is inserted in the same transaction as the posts it creates, so a key either names its
  posts or does not exist: a crash can never leave a key without its posts, or posts without their key.
- The same key with the same body: the stored answer when the request finished (published, or failed
  for good); otherwise the request resumes its own posts (waiting for them, or retrying the ones that
  failed for a reason that may pass, like throttling) and answers their state. Nothing new is created.
- The same key with another body (or on another endpoint): 409.
- Keys live IDEMPOTENCY_TTL_SECONDS (24 h by default), per user.
- Requests refused before anything was created (validation, bad media) store nothing: fix and resend.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import unit_of_work, utcnow
from app.errors import BadRequest, Conflict
from app.publishing.models import IdempotencyKey

MAX_KEY_LENGTH = 255


def fingerprint(endpoint: str, body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters", code="validation_error")
    return key


async def find(session: AsyncSession, user_id: str, key: str) -> IdempotencyKey | None:
    """The live record for this key (an expired one is deleted and reads as absent)."""
    record = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )
    if record is not None and record.expires_at <= utcnow():
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
        await session.flush()
        return None
    return record


def ensure_same_request(record: IdempotencyKey, endpoint: str, request_hash: str) -> None:
    if record.endpoint != endpoint or record.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
            code="idempotency_key_reused",
        )


async def create(
    session: AsyncSession, *, user_id: str, key: str, endpoint: str, request_hash: str, ttl_seconds: int
) -> IdempotencyKey:
    """Add the key to the current unit of work (a concurrent duplicate fails at commit: IntegrityError)."""
    now = utcnow()
    record = IdempotencyKey(
        user_id=user_id,
        key=key,
        endpoint=endpoint,
        request_hash=request_hash,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    session.add(record)
    await session.flush()
    return record


async def store_answer(sessionmaker: async_sessionmaker[AsyncSession], record_id: int, status: int, body: Any) -> None:
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == record_id)
            .values(response_status=status, response_body=body)
        )


async def delete_expired(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with unit_of_work(sessionmaker) as session:
        result = await session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.expires_at <= utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
