"""Event jobs: `deliver_webhook` (one attempt of one delivery) and the minute sweeper."""

from __future__ import annotations

from typing import Any

from app.context import AppContext
from app.events import delivery


async def deliver_webhook(ctx: dict[str, Any], delivery_id: int) -> str:
    """Send one delivery if it is due and first in line; a failure schedules its own retry."""
    app: AppContext = ctx["app"]
    return await delivery.deliver(app, delivery_id)


async def sweep_webhooks(ctx: dict[str, Any]) -> int:
    """Every minute (and at start-up): enqueue the pending deliveries a lost job, a crash or a flushed Redis
    left behind, and drop events past their retention."""
    app: AppContext = ctx["app"]
    return await delivery.sweep(app)
