"""Review jobs: a sweep (cron) finds sources due for collection and replies due to be sent;
one job collects one source; one job sends (or checks) one reply."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from services.worker.context import WorkerContext
from shared.jobs import enqueue
from shared.publishing.limiter import AccountLimiter
from shared.reviews import COLLECT_JOB, SEND_REPLY_JOB, SWEEP_JOB
from shared.reviews.collection import Collector, reply_job_id
from shared.reviews.collection import sweep as find_due
from shared.reviews.replies import ReplySender

log = structlog.get_logger("chorus.worker")

__all__ = ["COLLECT_JOB", "SEND_REPLY_JOB", "SWEEP_JOB", "collect", "send_reply", "sweep"]


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Enqueue a collection per due source and a send per due reply (ids only cross the
    tenant line; each job works in its own agency)."""
    wctx = WorkerContext.of(ctx)
    async with wctx.db.transaction() as session:
        sources, replies = await find_due(session, now=datetime.now(UTC))
    for source in sources:
        await enqueue(
            wctx.redis,
            COLLECT_JOB,
            str(source.agency_id),
            str(source.source_id),
            job_id=source.job_id,
        )
    for reply in replies:
        await enqueue(
            wctx.redis, SEND_REPLY_JOB, str(reply.agency_id), str(reply.review_id),
            job_id=reply.job_id,
        )  # fmt: skip
    if sources or replies:
        log.info("reviews.sweep", sources=len(sources), replies=len(replies))
    return {"sources": len(sources), "replies": len(replies)}


async def collect(ctx: dict[str, Any], agency_id: str, source_id: str) -> str:
    wctx = WorkerContext.of(ctx)
    collector = Collector(wctx.db, AccountLimiter(wctx.redis), wctx.settings)
    result = await collector.collect(uuid.UUID(agency_id), uuid.UUID(source_id))
    now = datetime.now(UTC)
    for review_id in result.stored.auto_queued:
        await enqueue(
            wctx.redis,
            SEND_REPLY_JOB,
            agency_id,
            str(review_id),
            job_id=reply_job_id(review_id, 0, None) + f":auto:{int(now.timestamp())}",
        )
    return result.outcome


async def send_reply(ctx: dict[str, Any], agency_id: str, review_id: str) -> str:
    wctx = WorkerContext.of(ctx)
    sender = ReplySender(wctx.db, AccountLimiter(wctx.redis), wctx.settings)
    result = await sender.send(uuid.UUID(agency_id), uuid.UUID(review_id))
    if result.outcome in ("queued", "unconfirmed", "deferred") and result.due_at is not None:
        await enqueue(
            wctx.redis,
            SEND_REPLY_JOB,
            agency_id,
            review_id,
            job_id=reply_job_id(uuid.UUID(review_id), result.attempts, result.due_at),
            _defer_until=result.due_at,
        )
    return result.outcome
