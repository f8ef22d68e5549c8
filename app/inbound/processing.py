"""Processing a stored delivery: each change mapped to every connected account of that Instagram user, comments
and mentions stored once per account, their events recorded in the same transaction.

One delivery is one transaction (rows, events, and the delivery marked processed), so a process killed midway
leaves it pending and the next run starts over. Comments and mentions are inserted with ON CONFLICT DO NOTHING
on their unique keys and an event is recorded only for a row inserted now: a second run, a replay with other
bytes, or two runs racing each other never store or announce anything twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.accounts.models import Account, AccountStatus
from app.comments.models import Comment, Mention
from app.context import AppContext
from app.db import insert_for, unit_of_work, utcnow
from app.events.types import CommentCreated, MentionCreated
from app.inbound.envelope import Change, NotAnEnvelope, decode, parse
from app.inbound.models import InboundDelivery, InboundStatus

logger = logging.getLogger(__name__)

PROCESS_JOB = "process_inbound_delivery"
# A delivery whose processing keeps failing is retried this many times (then kept as failed, for a human).
MAX_ATTEMPTS = 5
FAILED_RETRY_BASE = timedelta(seconds=30)
# A pending delivery older than this has lost its job (a killed worker, a flushed Redis): the sweeper sends it
# again. A delivery merely queued behind others is harmless to send twice (see the module docstring).
STALE_AFTER = timedelta(seconds=30)
SWEEP_BATCH = 1000
HANDLED_FIELDS = frozenset({"comments", "mentions"})


def job_id(delivery_id: int, attempts: int) -> str:
    """One job per processing attempt: a replay of the same attempt is refused by the queue."""
    return f"inbound:{delivery_id}:{attempts}"


@dataclass
class Outcome:
    comments: int = 0
    mentions: int = 0
    unhandled: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.comments} comments, {self.mentions} mentions"


def _text(value: object, limit: int | None = None) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    # PostgreSQL's text cannot hold NUL: kept, it would fail this delivery on every attempt.
    text = str(value).replace("\x00", "")
    return text[:limit] if limit else text


def _insert(session: AsyncSession, model: type[Comment] | type[Mention], values: dict[str, Any]) -> Any:
    return (
        insert_for(session.get_bind().dialect.name, model).values(**values).on_conflict_do_nothing().returning(model.id)
    )


def mentions(text: str | None, username: str) -> bool:
    """`@username` in the text, as a whole handle (not `@username2`, not an e-mail address)."""
    if not text:
        return False
    return re.search(rf"(?<![\w.@])@{re.escape(username)}(?![\w.])", text, re.IGNORECASE) is not None


def _about(account: Account) -> dict[str, Any]:
    return {"account_id": account.id, "username": account.username, "platform_user_id": account.ig_user_id}


async def _comment(session: AsyncSession, change: Change, accounts: Sequence[Account], outcome: Outcome) -> None:
    value = change.value
    comment_id = _text(value.get("id"), 64)
    media: dict[str, Any] = value["media"] if isinstance(value.get("media"), dict) else {}
    media_id = _text(media.get("id"), 64) or _text(value.get("media_id"), 64)
    if not comment_id or not media_id:
        outcome.unhandled["comments without id or media"] = outcome.unhandled.get("comments without id or media", 0) + 1
        return
    person: dict[str, Any] = value["from"] if isinstance(value.get("from"), dict) else {}
    text = _text(value.get("text"))
    parent_id = _text(value.get("parent_id"), 64)
    from_username = _text(person.get("username"), 255)
    from_id = _text(person.get("id"), 64)
    hidden = value.get("hidden") is True
    heard: dict[str, Any] = {"media_id": media_id, "text": text, "from_username": from_username, "from_id": from_id}
    for account in accounts:
        inserted = await session.scalar(
            _insert(
                session,
                Comment,
                {
                    "account_id": account.id,
                    "ig_comment_id": comment_id,
                    "media_id": media_id,
                    "parent_id": parent_id,
                    "text": text,
                    "username": from_username,
                    "from_id": from_id,
                    "commented_at": change.time,
                    "hidden": hidden,
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                },
            )
        )
        if inserted is not None:
            outcome.comments += 1
            data = CommentCreated(
                **_about(account),
                **heard,
                comment_id=comment_id,
                parent_id=parent_id,
                hidden=hidden,
                commented_at=change.time,
            )
            await events.record(session, user_id=account.user_id, type="comment.created", data=data)
        # With Instagram Login there is no `mentions` field: a comment that @mentions the account is the mention.
        if mentions(text, account.username):
            await _mention(session, account, change, media_id, comment_id, heard, outcome)


async def _mention(
    session: AsyncSession,
    account: Account,
    change: Change,
    media_id: str,
    comment_id: str | None,
    heard: dict[str, Any],
    outcome: Outcome,
    extra: dict[str, Any] | None = None,
) -> None:
    inserted = await session.scalar(
        _insert(
            session,
            Mention,
            {
                "account_id": account.id,
                "media_id": media_id,
                "comment_id": comment_id or "",
                "text": heard["text"],
                "username": heard["from_username"],
                "mentioned_at": change.time,
                "extra": extra,
                "created_at": utcnow(),
            },
        )
    )
    if inserted is not None:
        outcome.mentions += 1
        data = MentionCreated(**_about(account), **heard, comment_id=comment_id, mentioned_at=change.time)
        await events.record(session, user_id=account.user_id, type="mention.created", data=data)


async def _mention_field(session: AsyncSession, change: Change, accounts: Sequence[Account], outcome: Outcome) -> None:
    """Facebook Login's `mentions` field: `{media_id, comment_id?}` (a caption mention has no comment id)."""
    value = change.value
    media_id = _text(value.get("media_id"), 64)
    if not media_id:
        outcome.unhandled["mentions without media_id"] = outcome.unhandled.get("mentions without media_id", 0) + 1
        return
    comment_id = _text(value.get("comment_id"), 64)
    extra = {k: v for k, v in value.items() if k not in ("media_id", "comment_id")} or None
    heard: dict[str, Any] = {"media_id": media_id, "text": None, "from_username": None, "from_id": None}
    for account in accounts:
        await _mention(session, account, change, media_id, comment_id, heard, outcome, extra)


async def process_delivery(ctx: AppContext, delivery_id: int) -> str:
    """Process one delivery if it is still to be processed; a failure is recorded on it for the sweeper."""
    try:
        return await _process(ctx, delivery_id)
    except Exception as exc:
        logger.exception("inbound delivery processing failed", extra={"delivery_id": delivery_id})
        async with unit_of_work(ctx.sessionmaker) as session:
            await session.execute(
                update(InboundDelivery)
                .where(InboundDelivery.id == delivery_id, InboundDelivery.status != InboundStatus.PROCESSED)
                .values(
                    status=InboundStatus.FAILED,
                    attempts=InboundDelivery.attempts + 1,
                    error=f"{type(exc).__name__}: {exc}"[:1000],
                )
            )
        return "failed"


async def _process(ctx: AppContext, delivery_id: int) -> str:
    async with unit_of_work(ctx.sessionmaker) as session:
        # SKIP LOCKED (PostgreSQL): a second run while the first holds the row leaves it to the first.
        delivery = await session.scalar(
            select(InboundDelivery).where(InboundDelivery.id == delivery_id).with_for_update(skip_locked=True)
        )
        if delivery is None:
            return "busy or gone"
        if delivery.status == InboundStatus.PROCESSED:
            return "already processed"
        outcome = Outcome()
        try:
            parsed = parse(decode(delivery.body))
        except NotAnEnvelope as exc:
            parsed = None
            outcome.unhandled[str(exc)] = 1
        if parsed is not None:
            ids = sorted({c.ig_user_id for c in parsed.changes})
            accounts = (
                await session.scalars(
                    select(Account)
                    .where(Account.ig_user_id.in_(ids), Account.status != AccountStatus.DISCONNECTED)
                    .order_by(Account.id)
                )
            ).all()
            by_user: dict[str, list[Account]] = {}
            for account in accounts:
                by_user.setdefault(account.ig_user_id, []).append(account)
            for change in parsed.changes:
                targets = by_user.get(change.ig_user_id, [])
                if change.field == "comments":
                    await _comment(session, change, targets, outcome)
                elif change.field == "mentions":
                    await _mention_field(session, change, targets, outcome)
                else:
                    outcome.unhandled[change.field] = outcome.unhandled.get(change.field, 0) + 1
                if not targets and change.field in HANDLED_FIELDS:
                    outcome.unhandled["no connected account"] = outcome.unhandled.get("no connected account", 0) + 1
            for problem in parsed.problems:
                outcome.unhandled[problem] = outcome.unhandled.get(problem, 0) + 1
            if parsed.messaging:
                outcome.unhandled["messaging"] = parsed.messaging
        if outcome.unhandled:
            # Kept as received (the body stays): logged so that a field worth handling gets noticed.
            logger.info(
                "inbound delivery carried what is not processed",
                extra={"delivery_id": delivery_id, "unhandled": outcome.unhandled},
            )
        delivery.status = InboundStatus.PROCESSED
        delivery.processed_at = utcnow()
        delivery.attempts += 1
        delivery.error = None
        return outcome.describe()


async def sweep(ctx: AppContext) -> int:
    """Enqueue the deliveries a lost job left pending, and the failed ones due for another try."""
    now = utcnow()
    async with ctx.sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    InboundDelivery.id, InboundDelivery.status, InboundDelivery.attempts, InboundDelivery.received_at
                )
                .where(
                    or_(
                        (InboundDelivery.status == InboundStatus.PENDING)
                        & (InboundDelivery.received_at < now - STALE_AFTER),
                        (InboundDelivery.status == InboundStatus.FAILED) & (InboundDelivery.attempts < MAX_ATTEMPTS),
                    )
                )
                .order_by(InboundDelivery.received_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
    enqueued = 0
    for row in rows:
        if row.status == InboundStatus.FAILED and row.received_at + FAILED_RETRY_BASE * 2 ** (row.attempts - 1) > now:
            continue
        job = job_id(row.id, row.attempts)
        if row.status == InboundStatus.PENDING:
            # Its own job may be stuck (marked running by a dead worker, or its id spent): a new id per minute,
            # so the sweeper never waits on it. Should both run, the second finds the delivery processed.
            job = f"{job}:swept-{int(now.timestamp()) // 60}"
        if await ctx.jobs.enqueue(PROCESS_JOB, row.id, job_id=job):
            enqueued += 1
    if enqueued:
        logger.info("inbound sweeper enqueued deliveries", extra={"count": enqueued})
    return enqueued
