"""Queries and rules of webhook endpoints, their deliveries and the events feed. Functions only flush;
the request's unit of work commits."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import TokenCipher
from app.db import utcnow
from app.events import signing
from app.events.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from app.events.outbox import delivery_job_id, dispatch_after_commit
from app.events.schemas import DeliveryOut, EndpointOut
from app.events.types import WEBHOOK_TEST

MAX_ENDPOINTS_PER_USER = 20
ROTATION_OVERLAP = timedelta(hours=24)
# Positions handed out per feed read at most (the rest on the next read).
POSITION_BATCH = 5000


def to_endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    now = utcnow()
    previous_until = endpoint.previous_secret_expires_at
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        failing_since=endpoint.failing_since,
        last_success_at=endpoint.last_success_at,
        previous_secret_expires_at=previous_until if previous_until and previous_until > now else None,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def to_delivery_out(delivery: WebhookDelivery, event: Event) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=event.public_id,
        event_type=event.type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


# --- endpoints ---------------------------------------------------------------------------------------


async def count_endpoints(session: AsyncSession, user_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.user_id == user_id)
    )
    return int(count or 0)


async def create_endpoint(
    session: AsyncSession,
    cipher: TokenCipher,
    *,
    user_id: str,
    url: str,
    events: Sequence[str],
    description: str | None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned in clear this once; stored encrypted)."""
    secret = signing.new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        user_id=user_id,
        url=url,
        events=list(events),
        description=description,
        enabled=True,
        secret_encrypted=cipher.encrypt(secret),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def get_owned(session: AsyncSession, user_id: str, endpoint_id: int) -> WebhookEndpoint | None:
    """The user's endpoint with this id, or None (another user's endpoint is None too)."""
    return await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.user_id == user_id)
    )


async def list_owned(session: AsyncSession, user_id: str) -> Sequence[WebhookEndpoint]:
    result = await session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.user_id == user_id).order_by(WebhookEndpoint.id)
    )
    return result.all()


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    now = utcnow()
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    endpoint.updated_at = now


async def enable(session: AsyncSession, endpoint: WebhookEndpoint) -> int:
    """Enable the endpoint and send what is pending for it now (in order); returns how many are pending."""
    now = utcnow()
    endpoint.enabled = True
    endpoint.disabled_reason = None
    endpoint.disabled_at = None
    endpoint.failing_since = None
    endpoint.updated_at = now
    await session.flush()
    # Deliveries kept back while it was disabled are due now; those waiting for a retry keep their time.
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at < now),
        )
        .values(next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    pending = (
        await session.execute(
            select(WebhookDelivery.id, WebhookDelivery.attempts).where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
        )
    ).all()
    # Each job finds whether its delivery is first in line; those that are not are sent after their turn.
    reason = f"resume-{secrets.token_hex(4)}"
    dispatch_after_commit(session, [(row.id, delivery_job_id(row.id, row.attempts + 1, reason)) for row in pending])
    return len(pending)


def rotate_secret(endpoint: WebhookEndpoint, cipher: TokenCipher) -> tuple[str, WebhookEndpoint]:
    """A new secret; the current one keeps signing beside it for 24 hours (one previous secret at most)."""
    secret = signing.new_secret()
    now = utcnow()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret_encrypted = cipher.encrypt(secret)
    endpoint.updated_at = now
    return secret, endpoint


async def reencrypt_secrets(session: AsyncSession, cipher: TokenCipher) -> int:
    """Re-encrypt every stored signing secret with the first TOKEN_ENCRYPTION_KEY (`python -m app rotate-keys`)."""
    endpoints = (await session.scalars(select(WebhookEndpoint))).all()
    for endpoint in endpoints:
        endpoint.secret_encrypted = cipher.rotate(endpoint.secret_encrypted)
        if endpoint.previous_secret_encrypted:
            endpoint.previous_secret_encrypted = cipher.rotate(endpoint.previous_secret_encrypted)
    return len(endpoints)


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its deliveries (the events stay in the feed)."""
    await session.delete(endpoint)
    await session.flush()


# --- deliveries --------------------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> tuple[list[tuple[WebhookDelivery, Event]], int | None]:
    """Newest first; returns a page and the cursor (an id) for the next one."""
    query = (
        select(WebhookDelivery, Event)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.user_id == endpoint.user_id)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    rows = [(r[0], r[1]) for r in (await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)))]
    next_cursor = rows[limit - 1][0].id if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_delivery(
    session: AsyncSession, endpoint: WebhookEndpoint, delivery_id: int
) -> tuple[WebhookDelivery, Event] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, Event)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.user_id == endpoint.user_id,
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def redeliver(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send it again now: a pending one skips its wait; a finished one gets a new delivery of the same event
    (the same `webhook-id`, so a receiver that already has it can tell)."""
    now = utcnow()
    if delivery.status == DeliveryStatus.PENDING:
        delivery.next_attempt_at = now
        delivery.updated_at = now
        target = delivery
    else:
        target = WebhookDelivery(
            event_id=delivery.event_id,
            endpoint_id=delivery.endpoint_id,
            user_id=delivery.user_id,
            ordering_key=delivery.ordering_key,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(target)
    await session.flush()
    reason = f"redeliver-{secrets.token_hex(4)}"
    dispatch_after_commit(session, [(target.id, delivery_job_id(target.id, target.attempts + 1, reason))])
    return target


# --- the events feed ---------------------------------------------------------------------------------


async def _assign_positions(session: AsyncSession, user_id: str) -> None:
    """Give the user's committed, released events their place in the feed, in id order, under a lock.

    Ids are allocated before commit, so an event can commit after one with a higher id has been read;
    positions are given only to what is committed, one reader at a time, so a cursor skips nothing.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"events-feed:{user_id}"))))
    now = utcnow()
    ids = (
        await session.scalars(
            select(Event.id)
            .where(
                Event.user_id == user_id,
                Event.position.is_(None),
                Event.type != WEBHOOK_TEST,
                or_(Event.held_until.is_(None), Event.held_until <= now),
            )
            .order_by(Event.id)
            .limit(POSITION_BATCH)
        )
    ).all()
    if not ids:
        return
    top = await session.scalar(select(func.max(Event.position)).where(Event.user_id == user_id)) or 0
    await session.execute(
        update(Event), [{"id": event_id, "position": top + n} for n, event_id in enumerate(ids, start=1)]
    )


async def position_of(session: AsyncSession, user_id: str, public_id: str) -> int | None:
    await _assign_positions(session, user_id)
    return await session.scalar(select(Event.position).where(Event.user_id == user_id, Event.public_id == public_id))


async def read_feed(
    session: AsyncSession, user_id: str, *, after: int, types: Sequence[str], limit: int
) -> tuple[list[Event], int, bool]:
    """The user's events after position `after`, oldest first: (page, cursor after it, more waiting)."""
    await _assign_positions(session, user_id)
    query = select(Event).where(Event.user_id == user_id, Event.position > after)
    if types:
        query = query.where(Event.type.in_(types))
    rows = list((await session.scalars(query.order_by(Event.position).limit(limit + 1))).all())
    page = rows[:limit]
    cursor = page[-1].position if page and page[-1].position is not None else after
    return page, cursor, len(rows) > limit
