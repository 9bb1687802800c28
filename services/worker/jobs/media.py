"""Media jobs: process one upload (``media.process``), hand lost uploads back to processing
(``media.sweep``, a cron), and purge deleted media and unnamed files (``media.purge``, a cron).

The media storage is opened per job from the settings and closed after, unless the worker
installed one in its context under :data:`STORAGE_KEY` (tests and benchmarks do, to use
theirs).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from arq import Retry

from services.worker.context import WorkerContext
from services.worker.registry import BACKOFF_S, backoff_delay
from shared.media import derivative_store, housekeeping, processing
from shared.media import service as media_service
from shared.media.storage import Storage, storage_from_settings

log = structlog.get_logger("chorus.worker")

PROCESS_JOB = media_service.PROCESS_JOB
SWEEP_JOB = "media.sweep"
PURGE_JOB = "media.purge"
STORAGE_KEY = "media_storage"
MAX_TRIES = len(BACKOFF_S) + 1


@asynccontextmanager
async def media_storage(ctx: dict[str, Any]) -> AsyncIterator[Storage]:
    installed = ctx.get(STORAGE_KEY)
    if isinstance(installed, Storage):
        yield installed
        return
    async with storage_from_settings(WorkerContext.of(ctx).settings) as storage:
        yield storage


async def process(ctx: dict[str, Any], agency_id: str, media_id: str) -> str:
    """``media.process``: idempotent (a settled or unknown media is a no-op). Storage that
    fails for a reason that may pass is retried on the registry's back-off schedule; when
    the tries are spent, the sweep hands the media back later."""
    wctx = WorkerContext.of(ctx)
    try:
        async with media_storage(ctx) as storage:
            outcome = await processing.process_upload(
                wctx.db, storage, uuid.UUID(agency_id), uuid.UUID(media_id)
            )
            if outcome.status == "ready":
                await _prepare_copies(wctx, storage, uuid.UUID(agency_id), uuid.UUID(media_id))
    except Exception as exc:
        reason = processing.storage_unavailable(exc)
        tries = int(ctx.get("job_try") or 1)
        if reason is None:
            log.exception("media.process.crashed", media_id=media_id)
            await processing.fail_unexpectedly(wctx.db, uuid.UUID(agency_id), uuid.UUID(media_id))
            raise
        if tries >= MAX_TRIES:
            raise
        delay = backoff_delay(BACKOFF_S, tries)
        log.warning("media.process.retrying", reason=reason, retry_in_s=round(delay, 2))
        raise Retry(defer=delay) from exc
    return outcome.status


async def _prepare_copies(
    wctx: WorkerContext, storage: Storage, agency_id: uuid.UUID, media_id: uuid.UUID
) -> None:
    """Every platform's copy of a photo now, so publishing finds them made. The media is
    ready whatever happens here: a copy that could not be made now is made when a post asks."""
    try:
        made = await derivative_store.prepare_platform_copies(wctx.db, storage, agency_id, media_id)
    except Exception:
        log.warning("media.copies_deferred", media_id=str(media_id), exc_info=True)
    else:
        log.info("media.copies_made", media_id=str(media_id), copies=made)


async def sweep(ctx: dict[str, Any]) -> int:
    """``media.sweep``: enqueue processing again for every upload left waiting too long (the
    job id makes it a no-op for one still queued or running)."""
    wctx = WorkerContext.of(ctx)
    waiting = await housekeeping.find_waiting_uploads(wctx.db, datetime.now(UTC))
    for agency_id, media_id in waiting:
        await media_service.enqueue_processing(wctx.redis, agency_id, media_id)
    if waiting:
        log.info("media.swept", count=len(waiting))
    return len(waiting)


async def purge(ctx: dict[str, Any]) -> dict[str, int]:
    """``media.purge``: deleted media past their grace period, then files no media names."""
    wctx = WorkerContext.of(ctx)
    async with media_storage(ctx) as storage:
        purged = await housekeeping.purge(wctx.db, storage, datetime.now(UTC))
    return {"media": purged.media, "blobs": purged.blobs, "objects": purged.objects}
