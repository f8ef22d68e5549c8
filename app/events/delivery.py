"""Delivering one event to one endpoint: claim, sign, send, settle; and the sweeper that finds the pending.

- A delivery is claimed with a lease (an atomic UPDATE) and only when it is due, its endpoint is enabled,
  and no earlier event with the same ordering key (the same post or account) is still pending for that
  endpoint: events of one post arrive in order, while a retry waiting for one post holds up no other.
- Every attempt signs anew (Standard Webhooks) with the same `webhook-id`, the event id.
- A failed attempt is retried after the next delay of WEBHOOK_RETRY_SCHEDULE, with jitter; after the last,
  the delivery fails. An endpoint with no success for WEBHOOK_DISABLE_AFTER_SECONDS is disabled instead,
  its deliveries kept pending until it is enabled again.
- A crash anywhere leaves the row pending (or leased until the lease runs out): the sweeper sends it
  again, with the same event id, so receivers deduplicate.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from app.context import AppContext
from app.crypto import TokenCipher
from app.db import unit_of_work, utcnow
from app.events import signing
from app.events.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS, WEBHOOK_ENDPOINTS_DISABLED
from app.events.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from app.events.outbox import DELIVER_JOB, delivery_job_id
from app.events.schemas import EventOut
from app.events.sender import SendResult
from app.events.types import WEBHOOK_TEST

logger = logging.getLogger(__name__)

# A sender keeps its claim this much longer than a receiver may take to answer.
LEASE_MARGIN_SECONDS = 5.0
SWEEP_HORIZON = timedelta(seconds=75)
SWEEP_BATCH = 1000
SUCCESS_RESOLUTION = timedelta(seconds=5)


@dataclass(frozen=True)
class FollowUp:
    """A job to enqueue once the settling transaction has committed."""

    delivery_id: int
    attempt: int
    at: datetime | None = None
    after: int | None = None  # the delivery it waited for (its own job id, so a late skip cannot refuse it)

    def job_id(self) -> str:
        return delivery_job_id(self.delivery_id, self.attempt, f"after-{self.after}" if self.after else None)


def event_out(event: Event) -> EventOut:
    """The payload a receiver gets (and the feed lists): `{id, type, created_at, data}`."""
    return EventOut(id=event.public_id, type=event.type, created_at=event.created_at, data=event.data)


def secrets_in_force(cipher: TokenCipher, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The endpoint's secret, and the previous one while its rotation overlap lasts."""
    found = [cipher.decrypt(endpoint.secret_encrypted)]
    if (
        endpoint.previous_secret_encrypted
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(cipher.decrypt(endpoint.previous_secret_encrypted))
    return found


def sendable() -> ColumnElement[bool]:
    """A pending delivery's endpoint is enabled and nothing of the same key is pending before it."""
    earlier = aliased(WebhookDelivery)
    first_in_line = ~exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.status == DeliveryStatus.PENDING,
        or_(
            earlier.event_id < WebhookDelivery.event_id,
            and_(earlier.event_id == WebhookDelivery.event_id, earlier.id < WebhookDelivery.id),
        ),
    )
    enabled = exists().where(WebhookEndpoint.id == WebhookDelivery.endpoint_id, WebhookEndpoint.enabled.is_(True))
    return and_(WebhookDelivery.status == DeliveryStatus.PENDING, enabled, first_in_line)


def not_leased(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)


async def deliver(ctx: AppContext, delivery_id: int) -> str:
    """Make the delivery's next attempt if it is due and first in line; say what happened."""
    owner = secrets.token_hex(8)
    claimed = await _claim(ctx, delivery_id, owner)
    if claimed is None:
        return "skipped"
    delivery, event, endpoint = claimed
    now = utcnow()
    body = signing.payload_body(event_out(event).model_dump(mode="json"))
    headers = signing.signed_headers(event.public_id, now, body, secrets_in_force(ctx.cipher, endpoint, now))
    result = await ctx.webhooks.send(endpoint.url, body, headers)
    WEBHOOK_DELIVERIES.labels(event.type, result.outcome).inc()
    WEBHOOK_DELIVERY_SECONDS.labels(result.outcome).observe(result.seconds)
    logger.info(
        "webhook delivery attempt: event %s to endpoint %s, attempt %s: %s",
        event.public_id,
        endpoint.id,
        delivery.attempts,
        result.outcome,
        extra={
            "event_id": event.public_id,
            "event_type": event.type,
            "delivery_id": delivery.id,
            "endpoint_id": endpoint.id,
            "attempt": delivery.attempts,
            "outcome": result.outcome,
            "status_code": result.status_code,
            "error": result.error,
            "seconds": round(result.seconds, 3),
        },
    )
    follow_ups = await _settle(ctx, delivery, event, owner, result)
    await enqueue(ctx, follow_ups)
    return result.outcome


async def _claim(
    ctx: AppContext, delivery_id: int, owner: str
) -> tuple[WebhookDelivery, Event, WebhookEndpoint] | None:
    now = utcnow()
    lease = timedelta(seconds=ctx.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
    async with unit_of_work(ctx.sessionmaker) as session:
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.next_attempt_at <= now,
                not_leased(now),
                sendable(),
            )
            .values(
                lease_owner=owner,
                lease_until=now + lease,
                attempts=WebhookDelivery.attempts + 1,
                last_attempt_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = (
            await session.execute(
                select(WebhookDelivery, Event, WebhookEndpoint)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).one()
    return row[0], row[1], row[2]


def retry_delay(schedule: tuple[float, ...], attempts: int) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones (None: no attempt left), with jitter."""
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * (0.75 + random.random() / 2)


async def _settle(
    ctx: AppContext, delivery: WebhookDelivery, event: Event, owner: str, result: SendResult
) -> list[FollowUp]:
    """Record the attempt's outcome (if the claim is still ours) and say which jobs come next."""
    now = utcnow()
    settings = ctx.settings
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_until": None,
        "last_status_code": result.status_code,
        "last_error": result.error,
        "updated_at": now,
    }
    follow_ups: list[FollowUp] = []
    async with unit_of_work(ctx.sessionmaker) as session:
        if result.ok:
            # Only when it changes something that matters: a burst of successes to one endpoint must not queue
            # up on its row lock (last_success_at is kept to within a few seconds).
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == delivery.endpoint_id,
                    or_(
                        WebhookEndpoint.failing_since.is_not(None),
                        WebhookEndpoint.last_success_at.is_(None),
                        WebhookEndpoint.last_success_at < now - SUCCESS_RESOLUTION,
                    ),
                )
                .values(failing_since=None, last_success_at=now)
            )
            values.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None)
        else:
            disabled = await _note_failure(
                session, delivery.endpoint_id, result, now, settings.webhook_disable_after_seconds
            )
            delay = retry_delay(settings.webhook_retry_schedule, delivery.attempts)
            if disabled:
                # Kept pending and due: enabling the endpoint again sends it at once.
                values.update(next_attempt_at=now)
            elif delay is None or event.type == WEBHOOK_TEST:
                values.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
            else:
                values.update(next_attempt_at=now + timedelta(seconds=delay))
                follow_ups.append(FollowUp(delivery.id, delivery.attempts + 1, values["next_attempt_at"]))
        settled = await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.lease_owner == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if settled.rowcount != 1:  # type: ignore[attr-defined]
            # Our lease ran out and another sender took over: its outcome is the one that counts.
            await session.rollback()
            return []
        if values.get("status") in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
            follow_ups.extend(await _next_in_line(session, delivery))
    return follow_ups


async def _note_failure(
    session: AsyncSession, endpoint_id: int, result: SendResult, now: datetime, disable_after: float
) -> bool:
    """Remember when the endpoint started failing; disable it past the limit. True when it is disabled."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
    )
    endpoint = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    if endpoint is None or not endpoint.enabled:
        return True
    assert endpoint.failing_since is not None
    if (now - endpoint.failing_since).total_seconds() < disable_after:
        return False
    days = disable_after / 86400
    span = f"{days:g} days" if days >= 1 else f"{disable_after:g} seconds"
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(
            enabled=False,
            disabled_at=now,
            disabled_reason=f"No successful delivery for {span} (last error: {result.error}). "
            "Fix the receiver, then PATCH enabled=true to resume the pending deliveries.",
            updated_at=now,
        )
    )
    WEBHOOK_ENDPOINTS_DISABLED.inc()
    logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint_id, "error": result.error})
    return True


async def _next_in_line(session: AsyncSession, delivery: WebhookDelivery) -> list[FollowUp]:
    """The delivery that waited for this one (same endpoint and ordering key), if any."""
    if delivery.ordering_key is None:
        return []
    row = (
        await session.execute(
            select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.next_attempt_at)
            .where(
                WebhookDelivery.endpoint_id == delivery.endpoint_id,
                WebhookDelivery.ordering_key == delivery.ordering_key,
                WebhookDelivery.status == DeliveryStatus.PENDING,
            )
            .order_by(WebhookDelivery.event_id, WebhookDelivery.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return []
    return [FollowUp(row.id, row.attempts + 1, row.next_attempt_at, after=delivery.id)]


async def enqueue(ctx: AppContext, follow_ups: list[FollowUp]) -> None:
    """Hand jobs to the queue (best effort: the sweeper finds whatever is not handed over)."""
    now = utcnow()
    for follow_up in follow_ups:
        at = follow_up.at if follow_up.at and follow_up.at > now else None
        try:
            await ctx.jobs.enqueue(DELIVER_JOB, follow_up.delivery_id, job_id=follow_up.job_id(), defer_until=at)
        except Exception as exc:
            logger.warning("delivery not enqueued", extra={"delivery_id": follow_up.delivery_id, "error": str(exc)})


async def sweep(ctx: AppContext) -> int:
    """Enqueue every pending delivery that is due (or about to be), first in line and not being sent.

    Also drops events (and their deliveries) older than EVENTS_RETENTION_DAYS.
    """
    now = utcnow()
    async with ctx.sessionmaker() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.next_attempt_at)
                .where(WebhookDelivery.next_attempt_at <= now + SWEEP_HORIZON, not_leased(now), sendable())
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
    await enqueue(ctx, [FollowUp(row.id, row.attempts + 1, row.next_attempt_at) for row in rows])
    await _purge(ctx, now - timedelta(days=ctx.settings.events_retention_days))
    if rows:
        logger.info("webhook sweeper enqueued deliveries", extra={"count": len(rows)})
    return len(rows)


async def _purge(ctx: AppContext, before: datetime) -> None:
    async with unit_of_work(ctx.sessionmaker) as session:
        old = select(Event.id).where(Event.created_at < before).scalar_subquery()
        await session.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_(old))
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            delete(Event).where(Event.created_at < before).execution_options(synchronize_session=False)
        )
