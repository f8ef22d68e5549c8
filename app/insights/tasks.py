"""The insights refresh job (cron at 0, 6, 12 and 18 h UTC)."""

from __future__ import annotations

from typing import Any

from app.context import AppContext
from app.insights.refresh import refresh_recent


async def refresh_insights(ctx: dict[str, Any]) -> dict[str, int]:
    """Refresh the figures of every post published in the last 30 days."""
    app: AppContext = ctx["app"]
    return (await refresh_recent(app)).as_dict()
