"""Billing jobs: apply a Stripe webhook event from the inbox, sync the billed quantity
(debounced), and the sweep (grace periods, ended trials, due quantity syncs, lost events)."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from arq import Retry

from services.worker.context import WorkerContext
from shared.billing import service
from shared.billing.gateway import StripeGateway
from shared.errors import AppError
from shared.jobs import enqueue

log = structlog.get_logger("chorus.worker")

PROCESS_EVENT_JOB = "billing.process_stripe_event"
SYNC_QUANTITY_JOB = "billing.sync_quantity"
SWEEP_JOB = "billing.sweep"
BACKOFF_SECONDS = (5, 30, 120, 600, 1800)
"""Stripe unreachable: try again after these (with jitter), then leave it to the sweep."""


@asynccontextmanager
async def stripe_gateway(ctx: dict[str, Any]) -> AsyncIterator[StripeGateway]:
    """A Stripe client for one job (arq hands each job its own copy of the context, so
    nothing made here would outlive it anyway), closed when the job ends."""
    gateway = StripeGateway(WorkerContext.of(ctx).settings)
    try:
        yield gateway
    finally:
        await gateway.aclose()


def _retry(ctx: dict[str, Any]) -> Retry:
    tries = int(ctx.get("job_try", 1))
    base = BACKOFF_SECONDS[min(tries - 1, len(BACKOFF_SECONDS) - 1)]
    return Retry(defer=base * (0.8 + 0.4 * random.random()))


async def process_stripe_event(ctx: dict[str, Any], event_id: str) -> str:
    wctx = WorkerContext.of(ctx)
    try:
        async with stripe_gateway(ctx) as gateway:
            outcome = await service.process_event(
                wctx.db, wctx.settings, gateway, event_id, now=datetime.now(UTC)
            )
    except AppError as exc:
        attempts = await service.record_failure(wctx.db, event_id, exc.message)
        log.warning("billing.event_failed", event_id=event_id, attempts=attempts)
        if attempts <= len(BACKOFF_SECONDS):
            raise _retry(ctx) from None
        return "failed"
    return outcome.outcome


async def sync_quantity(ctx: dict[str, Any], agency_id: str) -> int | None:
    wctx = WorkerContext.of(ctx)
    try:
        async with stripe_gateway(ctx) as gateway:
            return await service.sync_quantity(
                wctx.db, wctx.settings, gateway, uuid.UUID(agency_id), now=datetime.now(UTC)
            )
    except AppError as exc:
        # The mark was kept (rolled back), so the next sweep tries again.
        log.warning("billing.quantity_sync_failed", agency_id=agency_id, error=exc.message)
        return None


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    wctx = WorkerContext.of(ctx)
    result = await service.sweep(wctx.db, wctx.settings, now=datetime.now(UTC))
    for event_id in result.unprocessed_events:
        await enqueue(
            wctx.redis, PROCESS_EVENT_JOB, event_id, job_id=f"{PROCESS_EVENT_JOB}:{event_id}"
        )
    for agency_id, marked in result.quantity_due:
        await enqueue(
            wctx.redis,
            SYNC_QUANTITY_JOB,
            str(agency_id),
            job_id=f"{SYNC_QUANTITY_JOB}:{agency_id}:{marked.timestamp()}",
        )
    counts = {
        "events": len(result.unprocessed_events),
        "read_only": result.read_only,
        "trials_ended": result.trials_ended,
        "quantity_syncs": len(result.quantity_due),
    }
    if any(counts.values()):
        log.info("billing.sweep", **counts)
    return counts
