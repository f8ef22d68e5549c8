"""The worker's heartbeat in Redis, read by /readyz."""

from __future__ import annotations

import time

from arq import ArqRedis

HEARTBEAT_KEY = "instagram-service:worker:heartbeat"
HEARTBEAT_INTERVAL_SECONDS = 15
HEARTBEAT_STALE_SECONDS = 90


async def beat(redis: ArqRedis) -> None:
    await redis.set(HEARTBEAT_KEY, str(time.time()), ex=HEARTBEAT_STALE_SECONDS * 4)
