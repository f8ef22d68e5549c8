"""Inbound jobs: `process_inbound_delivery` (one stored delivery) and its sweeper."""

from __future__ import annotations

from typing import Any

from app.context import AppContext
from app.inbound import processing


async def process_inbound_delivery(ctx: dict[str, Any], delivery_id: int) -> str:
    """Store the comments and mentions of one delivery, once, and record their events."""
    app: AppContext = ctx["app"]
    return await processing.process_delivery(app, delivery_id)


async def sweep_inbound_deliveries(ctx: dict[str, Any]) -> int:
    """Every 10 seconds (and at start-up): process what a killed worker or a lost job left pending."""
    app: AppContext = ctx["app"]
    return await processing.sweep(app)
