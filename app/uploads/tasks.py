"""The uploads job: remove expired uploads (rows first, then their files) and what crashed uploads left staged."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from app.context import AppContext
from app.db import unit_of_work, utcnow
from app.uploads import service
from app.uploads.storage import Storage

logger = logging.getLogger(__name__)

EXPIRE_BATCH = 200
# A staged file older than this belongs to an upload that died midway.
STAGED_MAX_AGE_SECONDS = 24 * 3600


async def expire_uploads(ctx: dict[str, Any]) -> int:
    """Delete uploads past their time that no unfinished post needs: their rows, then their files."""
    app: AppContext = ctx["app"]
    removed = 0
    while True:
        async with unit_of_work(app.sessionmaker) as session:
            uploads = await service.expired(session, utcnow(), EXPIRE_BATCH)
            await service.remove(session, [upload.id for upload in uploads])
        for upload in uploads:
            # After the commit: a file is only removed once no row names it.
            await app.uploads.delete(upload.storage_key)
        removed += len(uploads)
        if len(uploads) < EXPIRE_BATCH:
            break
    await asyncio.to_thread(_clear_staging, app.uploads)
    if removed:
        logger.info("expired uploads removed", extra={"count": removed})
    return removed


def _clear_staging(storage: Storage) -> None:
    cutoff = time.time() - STAGED_MAX_AGE_SECONDS
    for path in storage.staging.glob("incoming-*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue
