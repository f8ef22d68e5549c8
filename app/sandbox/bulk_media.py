"""`POST /control/media`: many feed images on one account in one call, for benchmarks.

The insights-refresh benchmark needs thousands of published posts; publishing them one by one through
containers would take longer than the benchmark itself. These media are what the account already had (like
the seeded ones): they are readable, listable and have insights, but they are not in `GET /control/published`,
which lists what `media_publish` did.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from app.sandbox.auth import normalise_username
from app.sandbox.dependencies import SandboxDep
from app.sandbox.models import Media
from app.sandbox.profiles import shortcode

router = APIRouter(prefix="/control", tags=["control"])


class BulkMedia(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    count: int = Field(ge=1, le=10_000, description="How many feed images to add to the account.")
    max_age_days: float = Field(
        default=29.0, gt=0, le=365, description="Their timestamps spread evenly from now back to this age."
    )
    caption: str | None = Field(default="Benchmark post", max_length=2200)


@router.post("/media", status_code=201)
async def add_media(body: BulkMedia, sandbox: SandboxDep) -> dict[str, Any]:
    """Add `count` feed images to an account (created if new), newest first in the answer."""
    username = normalise_username(body.username)
    if username is None:
        raise HTTPException(status_code=400, detail="username: up to 30 letters, digits, periods or underscores")
    now = sandbox.now()
    world = sandbox.world
    user = world.ensure_user(username, now)
    step = timedelta(days=body.max_age_days) / body.count
    added: list[dict[str, str]] = []
    for index in range(body.count):
        media_id = world.new_id("179")
        timestamp = now - step * (index + 1)
        world.add_media(
            Media(
                id=media_id,
                owner_id=user.ig_id,
                username=user.username,
                media_type="IMAGE",
                product_type="FEED",
                timestamp=timestamp,
                shortcode=shortcode(media_id),
                caption=body.caption,
            )
        )
        added.append({"id": media_id, "timestamp": timestamp.isoformat()})
    return {"user_id": user.ig_id, "username": user.username, "count": len(added), "data": added}
