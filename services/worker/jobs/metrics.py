"""Metric collection: a daily cron enqueues one collection per connected account, spread over
``SPREAD_S`` so 30,000 accounts do not hit the platforms in the same minute; each job fetches
and stores that account's new days. The connect path enqueues a backfill of its own, and a
published post a follow-up of its account's posts' numbers a few minutes later
(``shared.metrics.service.follow_up_published``)."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from arq import Retry

from services.worker.context import WorkerContext
from shared.jobs import enqueue
from shared.metrics import service
from shared.metrics.service import BACKFILL_JOB, COLLECT_JOB, POSTS_JOB, Outcome

log = structlog.get_logger("chorus.worker")

COLLECT_DUE_JOB = "metrics.collect_due"
SPREAD_S = 3 * 3600
MAX_TRIES = 6
BACKOFF_S = (60, 300, 900, 1800, 3600)


def stagger_s(account_id: uuid.UUID, spread: int = SPREAD_S) -> int:
    """A fixed offset per account within the spread: the same account every day, the load
    even across accounts."""
    digest = hashlib.blake2b(account_id.bytes, digest_size=4).digest()
    return int.from_bytes(digest, "big") % spread


async def collect_due(ctx: dict[str, Any], *, spread_s: int = SPREAD_S) -> int:
    """Enqueue today's collection for every connected account; returns how many."""
    wctx = WorkerContext.of(ctx)
    today = datetime.now(UTC).date()
    count = 0
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    while True:
        async with wctx.db.transaction() as session:
            batch = await service.find_collectable(session, after=after)
        for item in batch:
            await enqueue(
                wctx.redis,
                COLLECT_JOB,
                str(item.agency_id),
                str(item.account_id),
                job_id=service.collect_job_id(item.account_id, today),
                _defer_by=stagger_s(item.account_id, spread_s) if spread_s else None,
            )
        count += len(batch)
        if len(batch) < 1000:
            break
        after = (batch[-1].agency_id, batch[-1].account_id)
    log.info("metrics.collect_due", accounts=count)
    return count


async def _run(ctx: dict[str, Any], agency_id: str, account_id: str, *, backfill: bool) -> str:
    wctx = WorkerContext.of(ctx)
    result = await service.collect_account(
        wctx.db,
        wctx.settings,
        uuid.UUID(agency_id),
        uuid.UUID(account_id),
        backfill=service.backfill_days(wctx.settings) if backfill else None,
    )
    if result.outcome is Outcome.RETRY_LATER:
        tries = int(ctx.get("job_try", 1))
        if tries < MAX_TRIES:
            wait = BACKOFF_S[min(tries - 1, len(BACKOFF_S) - 1)]
            wait = max(wait, int(result.retry_after or 0))
            raise Retry(defer=wait + random.uniform(0, wait / 4))
        log.warning("metrics.gave_up", account_id=account_id, tries=tries)
    return f"{result.outcome.value}:{result.days}"


async def collect_account(ctx: dict[str, Any], agency_id: str, account_id: str) -> str:
    return await _run(ctx, agency_id, account_id, backfill=False)


async def backfill_account(ctx: dict[str, Any], agency_id: str, account_id: str) -> str:
    """The first collection after connecting: up to ``metrics_backfill_days`` back."""
    return await _run(ctx, agency_id, account_id, backfill=True)


async def collect_posts(ctx: dict[str, Any], agency_id: str, account_id: str) -> str:
    """The numbers of the account's recent posts, a few minutes after one was published."""
    wctx = WorkerContext.of(ctx)
    stored = await service.collect_posts(
        wctx.db, wctx.settings, uuid.UUID(agency_id), uuid.UUID(account_id)
    )
    return "gone" if stored is None else f"posts:{stored}"


__all__ = ["BACKFILL_JOB", "COLLECT_DUE_JOB", "COLLECT_JOB", "POSTS_JOB"]
