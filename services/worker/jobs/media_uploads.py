"""Resumable media uploads left unfinished: a cron aborts those past their expiry (their
stored parts and tail dropped), so storage does not keep bytes nobody will finish."""

from __future__ import annotations

from typing import Any

import structlog

from services.worker.context import WorkerContext
from shared import clock
from shared.media import resumable
from shared.media.storage import storage_from_settings

log = structlog.get_logger("chorus.worker")

EXPIRE_JOB = "media.expire_uploads"


async def expire_uploads(ctx: dict[str, Any]) -> int:
    """Abort every open upload past its expiry (a pass of at most a few hundred; the next
    run takes the rest); how many were aborted."""
    wctx = WorkerContext.of(ctx)
    async with storage_from_settings(wctx.settings) as storage:
        aborted = await resumable.expire_due(wctx.db, storage, wctx.redis, now=clock.now())
    if aborted:
        log.info("media.uploads_expired", aborted=aborted)
    return aborted
