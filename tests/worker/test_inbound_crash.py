"""Instagram's deliveries survive a worker SIGKILLed while it processes them: every one stored by the API is
processed by the restarted worker (its queued jobs, arq's re-run of the killed ones, or the sweeper), and no
comment or event is stored twice."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

from app.comments.models import Comment
from app.events.models import Event
from app.inbound.models import InboundDelivery, InboundStatus
from app.inbound.verification import signature_of
from tests.factories import Factory
from tests.worker.stack import API, APP_SECRET, Stack

pytestmark = pytest.mark.e2e

DELIVERIES = 300


def _body(ig_user_id: str, n: int) -> bytes:
    value = {
        "from": {"id": "1234567890123456", "username": "ana.souza"},
        "media": {"id": "17900000000000001", "media_product_type": "FEED"},
        "id": str(18_000_000_000_000_000 + n),
        "text": f"comment {n}",
    }
    entry = {"id": ig_user_id, "time": 1764440000 + n, "changes": [{"field": "comments", "value": value}]}
    return json.dumps({"object": "instagram", "entry": [entry]}).encode()


async def test_a_worker_killed_midway_loses_and_doubles_nothing(stack: Stack, make: Factory) -> None:
    account = await make.connected_account("inbound.crash")
    ctx = make.ctx

    async def processed() -> int:
        async with ctx.sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(InboundDelivery)
                .where(InboundDelivery.status == InboundStatus.PROCESSED)
            )
        return int(count or 0)

    async with stack.api() as api:

        async def send(n: int) -> int:
            body = _body(account.ig_user_id, n)
            response = await api.post(
                f"{API}/webhooks/instagram",
                content=body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature_of(APP_SECRET, body)},
            )
            return response.status_code

        async def started() -> bool:
            return await processed() > 0

        sending = asyncio.gather(*(send(n) for n in range(DELIVERIES // 2)))
        # Killed as soon as it has processed something, while the first half is still arriving.
        await stack.wait_until(started, timeout=30)
        stack.kill("worker")
        first = await sending
        second = await asyncio.gather(*(send(n) for n in range(DELIVERIES // 2, DELIVERIES)))
        replayed = await asyncio.gather(*(send(n) for n in range(10)))
    assert set(first) | set(second) | set(replayed) == {200}
    await stack.restart("worker")

    async def all_done() -> bool:
        return await processed() == DELIVERIES

    await stack.wait_until(all_done, timeout=90)
    async with ctx.sessionmaker() as session:
        deliveries = await session.scalar(select(func.count()).select_from(InboundDelivery))
        comments, distinct = (
            await session.execute(
                select(func.count(Comment.id), func.count(func.distinct(Comment.ig_comment_id))).where(
                    Comment.account_id == account.id
                )
            )
        ).one()
        events = await session.scalar(
            select(func.count()).select_from(Event).where(Event.user_id == "alice", Event.type == "comment.created")
        )
    assert deliveries == DELIVERIES
    assert comments == distinct == DELIVERIES
    assert events == DELIVERIES
