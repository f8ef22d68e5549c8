"""The transactional outbox: `record()` writes an event, and one delivery per subscribed endpoint, in the
caller's own transaction; once that transaction commits, the deliveries are handed to the job queue.

Handing over is best effort by design: a crash between the commit and the enqueue, a flushed Redis or a
lost job only delays a delivery until the minute sweeper finds it pending. Nothing is lost, since the rows
are the truth and were committed with the change that caused them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from app.db import utcnow
from app.events.metrics import EVENTS_RECORDED
from app.events.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from app.events.types import EVENT_TYPES, WEBHOOK_TEST, EventData
from app.jobs.queue import JobQueue

logger = logging.getLogger(__name__)

DELIVER_JOB = "deliver_webhook"
_QUEUE = "events.job_queue"
_TO_DISPATCH = "events.to_dispatch"
# Strong references to the enqueueing tasks, which the event loop alone only holds weakly.
_dispatching: set[asyncio.Task[None]] = set()

# Built once: every event recorded reads its user's endpoints, and every held one is completed.
_ENABLED_ENDPOINTS = select(WebhookEndpoint).where(
    WebhookEndpoint.user_id == bindparam("endpoints_user_id"), WebhookEndpoint.enabled.is_(True)
)
_DELIVERY_IDS = select(WebhookDelivery.id).where(WebhookDelivery.event_id == bindparam("delivery_event_id"))
_COMPLETE_HELD = (
    update(Event)
    .where(Event.id == bindparam("held_event_id"), Event.held_until > bindparam("held_now"))
    .values(data=bindparam("completed_data", type_=Event.__table__.c.data.type), held_until=None)
    .execution_options(synchronize_session=False)
)


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


def delivery_job_id(delivery_id: int, attempt: int, reason: str | None = None) -> str:
    """One job per attempt of a delivery: a second enqueue of the same attempt is refused.

    A `reason` (sent again on request, its endpoint enabled again...) makes an id of its own, so that a job
    still waiting for the old time cannot refuse it; a duplicate job is harmless, the claim is atomic.
    """
    base = f"webhook:{delivery_id}:{attempt}"
    return f"{base}:{reason}" if reason else base


async def record(
    session: AsyncSession,
    *,
    user_id: str,
    type: str,
    data: EventData,
    hold: timedelta | None = None,
) -> Event:
    """Write the event and its deliveries in the caller's transaction (it only flushes; the caller commits).

    With `hold`, the event may still be completed with `complete()` (say, a permalink learnt right after the
    commit) and nothing is sent or listed until then, or until the hold runs out.
    """
    return await _record(session, user_id=user_id, type=type, data=data, hold=hold)


async def record_test(session: AsyncSession, endpoint: WebhookEndpoint, data: EventData) -> WebhookDelivery:
    """A `webhook.test` event for one endpoint, whatever it subscribed to."""
    # Not handed to the queue: the request sends it itself and answers the outcome.
    event = await _record(
        session, user_id=endpoint.user_id, type=WEBHOOK_TEST, data=data, only=[endpoint], dispatch=False
    )
    delivery = await session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == event.id))
    assert delivery is not None
    return delivery


async def _record(
    session: AsyncSession,
    *,
    user_id: str,
    type: str,
    data: EventData,
    hold: timedelta | None = None,
    only: Sequence[WebhookEndpoint] | None = None,
    dispatch: bool = True,
) -> Event:
    expected = EVENT_TYPES.get(type)
    if expected is None or not isinstance(data, expected):
        raise TypeError(f"event {type!r} takes {expected.__name__ if expected else 'no data: unknown type'}")
    now = utcnow()
    event = Event(
        public_id=new_event_id(),
        user_id=user_id,
        type=type,
        data=data.model_dump(mode="json"),
        ordering_key=data.ordering_key(),
        created_at=now,
        held_until=now + hold if hold else None,
    )
    session.add(event)
    await session.flush()
    EVENTS_RECORDED.labels(type).inc()
    if only is None:
        candidates = (await session.scalars(_ENABLED_ENDPOINTS, {"endpoints_user_id": user_id})).all()
        endpoints = [e for e in candidates if "*" in e.events or type in e.events]
    else:
        endpoints = list(only)
    deliveries = [
        WebhookDelivery(
            event_id=event.id,
            endpoint_id=endpoint.id,
            user_id=user_id,
            ordering_key=event.ordering_key,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=event.held_until or now,
            created_at=now,
            updated_at=now,
        )
        for endpoint in endpoints
    ]
    if deliveries:
        session.add_all(deliveries)
        await session.flush()
        if dispatch and hold is None:
            dispatch_after_commit(session, [(d.id, delivery_job_id(d.id, 1)) for d in deliveries])
    return event


async def complete(session: AsyncSession, event: Event, **data: Any) -> bool:
    """Add to a held event's data and release it now; False (nothing changed) once it is out of our hands.

    It is out of our hands when its hold ran out: from then on a sender may have sent it, or a reader
    listed it, and an event never changes after that (a retry carries the same body).
    """
    now = utcnow()
    deliveries = (await session.scalars(_DELIVERY_IDS, {"delivery_event_id": event.id})).all()
    # Row locks on the deliveries (PostgreSQL) or the write lock (SQLite) keep a sender from claiming one
    # while this runs; a sender that claimed first leaves its delivery with attempts > 0, and then we stop.
    # With no delivery (no endpoint subscribed), only the event itself is completed.
    if deliveries and not await _release_deliveries(session, event, deliveries, now):
        return False
    changed = await session.execute(
        _COMPLETE_HELD, {"held_event_id": event.id, "held_now": now, "completed_data": {**event.data, **data}}
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


async def _release_deliveries(session: AsyncSession, event: Event, deliveries: Sequence[int], now: datetime) -> bool:
    """Make the held event's deliveries due now; False when a sender claimed one first (or its hold ran out)."""
    released = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.event_id == event.id,
            WebhookDelivery.attempts == 0,
            WebhookDelivery.lease_owner.is_(None),
            WebhookDelivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    # Whatever happens next, released deliveries are due now: hand them over.
    dispatch_after_commit(session, [(delivery_id, delivery_job_id(delivery_id, 1)) for delivery_id in deliveries])
    return bool(released.rowcount == len(deliveries))  # type: ignore[attr-defined]


# --- handing deliveries to the job queue once the transaction commits ---------------------------------


def bind_job_queue(sessionmaker: async_sessionmaker[AsyncSession], jobs: JobQueue) -> None:
    """Sessions made by `sessionmaker` hand their committed deliveries to `jobs`."""
    info = dict(sessionmaker.kw.get("info") or {})
    info[_QUEUE] = jobs
    sessionmaker.configure(info=info)


def dispatch_after_commit(session: AsyncSession, jobs: Sequence[tuple[int, str]]) -> None:
    """Enqueue `(delivery id, job id)` jobs once the session's transaction has committed."""
    session.info.setdefault(_TO_DISPATCH, []).extend(jobs)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[tuple[int, str]] = session.info.pop(_TO_DISPATCH, [])
    jobs: JobQueue | None = session.info.get(_QUEUE)
    if not pending or jobs is None:
        return
    # A synchronous hook inside the event loop's thread: the enqueueing itself runs as a task.
    task = asyncio.get_running_loop().create_task(_enqueue(jobs, pending))
    _dispatching.add(task)
    task.add_done_callback(_dispatching.discard)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_TO_DISPATCH, None)


async def _enqueue(jobs: JobQueue, pending: Sequence[tuple[int, str]]) -> None:
    for delivery_id, job_id in pending:
        try:
            await jobs.enqueue(DELIVER_JOB, delivery_id, job_id=job_id)
        except Exception as exc:  # the sweeper sends it within a minute
            logger.warning("delivery not enqueued", extra={"delivery_id": delivery_id, "error": str(exc)})
