"""Idempotency-Key on commenting and replying: a retried request never comments twice.

The keys share publishing's table and rules (app/publishing/idempotency.py): per user, 24 hours, the same key
with another body (or for another post or comment) answers 409. Creating a comment has no idempotency of its
own at Instagram, so the key is stored (committed) before Instagram is called, and the answer on it after:

- the same key again with its answer stored: that answer, `Idempotent-Replayed: true`, nothing sent;
- the same key while its first request may still be running (younger than one Instagram call can last): 409
  with Retry-After, nothing sent;
- the same key after a first request that never stored an answer (its process died, or Instagram's answer was
  lost): Instagram is read for the comment that request may have made; only if none is there is it made now;
- Instagram refusing for sure (a bad message, a dead token, throttling): the key is forgotten, so the same key
  can be sent again once the cause is fixed.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import instagram as ig
from app.auth.tokens import AuthenticatedUser
from app.comments.schemas import CommentCreated
from app.config import Settings
from app.db import utcnow
from app.errors import AppError, Conflict
from app.publishing import idempotency
from app.publishing import repository as keys
from app.publishing.models import IdempotencyKey

REPLAYED = {"Idempotent-Replayed": "true"}
# A comment answer is stored as this status.
CREATED = 201

Create = Callable[[datetime | None], Awaitable[CommentCreated]]


def in_flight_window(settings: Settings) -> timedelta:
    """How long a request may still be waiting for Instagram: every attempt timing out, plus the backoff."""
    seconds = settings.instagram_timeout_seconds * settings.instagram_max_attempts
    return timedelta(seconds=seconds + settings.instagram_retry_budget_seconds)


def _in_progress(retry_after: timedelta) -> Conflict:
    seconds = max(1, math.ceil(retry_after.total_seconds()))
    return Conflict(
        "A request with this Idempotency-Key is still being processed. Retry in a moment to get its answer.",
        code="idempotency_key_in_progress",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


def _outcome_unknown(error: AppError) -> bool:
    """Whether Instagram may have made the comment although the request failed (an answer lost or garbled)."""
    cause = error.__cause__
    if isinstance(cause, ig.InstagramUnavailable):
        return cause.request_sent
    return isinstance(cause, ig.TransientError | ig.UnexpectedResponse)


async def create_once(
    session: AsyncSession,
    settings: Settings,
    user: AuthenticatedUser,
    header: str | None,
    endpoint: str,
    body: BaseModel,
    create: Create,
) -> JSONResponse:
    """Run `create` at most once per Idempotency-Key (`create(since)` looks for an earlier attempt's comment
    made since `since` before making one) and answer 201 with what it made, or the stored answer."""
    key = idempotency.check_key(header)
    if key is None:
        return JSONResponse((await create(None)).model_dump(mode="json"), status_code=CREATED)
    request_hash = idempotency.fingerprint(endpoint, body)
    record, look_since = await _claim(session, settings, user, key, endpoint, request_hash)
    if record.response_status is not None:
        return JSONResponse(record.response_body, status_code=record.response_status, headers=REPLAYED)
    try:
        created = await create(look_since)
    except AppError as exc:
        if not _outcome_unknown(exc):
            await session.rollback()
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
            await session.commit()
        raise
    answer = created.model_dump(mode="json")
    await keys.store_answer(session, record.id, CREATED, answer)
    return JSONResponse(answer, status_code=CREATED)


async def _claim(
    session: AsyncSession, settings: Settings, user: AuthenticatedUser, key: str, endpoint: str, request_hash: str
) -> tuple[IdempotencyKey, datetime | None]:
    """The key's record, committed, and since when to look for an earlier attempt's comment (None: new key)."""
    known = await keys.find_key(session, user.id, key)
    if known is None:
        record = idempotency.new_key(
            user_id=user.id,
            key=key,
            endpoint=endpoint,
            request_hash=request_hash,
            ttl_seconds=settings.idempotency_ttl_seconds,
        )
        try:
            await keys.add_key(session, record)
            await session.commit()
        except IntegrityError:
            # The same key arrived twice at once: the other request has it.
            await session.rollback()
            raise _in_progress(in_flight_window(settings)) from None
        return record, None
    idempotency.ensure_same_request(known, endpoint, request_hash)
    if known.response_status is not None:
        return known, None
    age = utcnow() - known.created_at
    window = in_flight_window(settings)
    if age < window:
        raise _in_progress(window - age)
    return known, known.created_at
