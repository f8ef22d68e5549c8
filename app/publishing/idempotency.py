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

from pydantic import BaseModel

from app.db import utcnow
from app.errors import BadRequest, Conflict
from app.publishing.models import IdempotencyKey

MAX_KEY_LENGTH = 255


def fingerprint(endpoint: str, body: BaseModel) -> str:
    """The request as the key remembers it: endpoint and canonical body, hashed."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    """The header's key, trimmed, or a 400 naming the rule."""
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters", code="validation_error")
    return key


def ensure_same_request(record: IdempotencyKey, endpoint: str, request_hash: str) -> None:
    """A key is for one request: the same key with another body, or on another endpoint, is a 409."""
    if record.endpoint != endpoint or record.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
            code="idempotency_key_reused",
        )


def new_key(*, user_id: str, key: str, endpoint: str, request_hash: str, ttl_seconds: int) -> IdempotencyKey:
    """The key's record, stored with the posts it creates (`repository.add_key`)."""
    now = utcnow()
    return IdempotencyKey(
        user_id=user_id,
        key=key,
        endpoint=endpoint,
        request_hash=request_hash,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
