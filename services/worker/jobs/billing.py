"""Billing jobs: apply a Stripe webhook event from the inbox, sync the billed quantity
(debounced), and the sweep (grace periods, ended trials, due quantity syncs, lost events)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from arq import Retry

from services.worker.context import WorkerContext
from services.worker.registry import BACKOFF_S, backoff_delay, transient_reason
from shared import clock
from shared.billing import service
from shared.billing.gateway import StripeGateway
from shared.errors import AppError, UpstreamFailed
from shared.jobs import STRIPE_INBOX_KEY, enqueue

log = structlog.get_logger("chorus.worker")

PROCESS_EVENT_JOB = "billing.process_stripe_event"
SYNC_QUANTITY_JOB = "billing.sync_quantity"
SWEEP_JOB = "billing.sweep"
MAX_TRIES = 6
INBOX_HEALTH_TTL_S = 300
"""Runs of one enqueued event job while its failures are transient (each after the delay the
inbox row's ``next_attempt_at`` says); after that, and after a permanent failure, the
billing sweep hands the event on again when ``next_attempt_at`` comes."""


@asynccontextmanager
async def stripe_gateway(ctx: dict[str, Any]) -> AsyncIterator[StripeGateway]:
    """A Stripe client for one job (arq hands each job its own copy of the context, so
    nothing made here would outlive it anyway), closed when the job ends."""
    gateway = StripeGateway(WorkerContext.of(ctx).settings)
    try:
        yield gateway
    finally:
        await gateway.aclose()


def _transient(exc: Exception) -> str | None:
    """Why trying the same event again soon may work, or None."""
    if isinstance(exc, UpstreamFailed):
        status = exc.extra.get("stripe_status")
        return "Stripe unreachable" if status is None or status == 429 or status >= 500 else None
    return transient_reason(exc)


def _describe(exc: Exception, transient: str | None) -> str:
    """The reason an operator reads: what failed, in one line (never a statement's
    parameters)."""
    if isinstance(exc, AppError):
        text = exc.message
    else:
        raw = str(getattr(exc, "orig", None) or exc).strip()
        text = f"{type(exc).__name__}: {raw.splitlines()[0] if raw else ''}"
    return f"transient ({transient}): {text}" if transient else text


async def process_stripe_event(ctx: dict[str, Any], event_id: str) -> str:
    """Apply one inbox event. Any failure is recorded on the inbox row (reason, when, when
    next); a transient one is retried here on the row's schedule, anything else is left to
    the sweep (a fixed bug, a configured key: the event is never given up)."""
    wctx = WorkerContext.of(ctx)
    try:
        async with stripe_gateway(ctx) as gateway:
            outcome = await service.process_event(
                wctx.db, wctx.settings, gateway, event_id, now=clock.now()
            )
    except Exception as exc:
        transient = _transient(exc)
        reason = _describe(exc, transient)
        now = clock.now()
        try:
            failure = await service.record_failure(wctx.db, event_id, reason, now=now)
        except Exception:  # the database may be what failed: the sweep finds the event
            log.warning("billing.event_failure_not_recorded", event_id=event_id, exc_info=True)
            failure = None
        tries = int(ctx.get("job_try") or 1)
        log.warning(
            "billing.event_failed",
            event_id=event_id,
            reason=reason,
            attempts=failure.attempts if failure else None,
            next_attempt_at=failure.next_attempt_at.isoformat() if failure else None,
            exc_info=transient is None,
        )
        if transient and tries < MAX_TRIES:
            if failure is not None:
                delay = (failure.next_attempt_at - now).total_seconds()
            else:
                delay = backoff_delay(BACKOFF_S, tries)
            raise Retry(defer=max(delay, 0.5)) from exc
        return "failed"
    return outcome.outcome


async def sync_quantity(ctx: dict[str, Any], agency_id: str) -> int | None:
    wctx = WorkerContext.of(ctx)
    try:
        async with stripe_gateway(ctx) as gateway:
            return await service.sync_quantity(
                wctx.db, wctx.settings, gateway, uuid.UUID(agency_id), now=clock.now()
            )
    except AppError as exc:
        # The mark was kept (rolled back), so the next sweep tries again.
        log.warning("billing.quantity_sync_failed", agency_id=agency_id, error=exc.message)
        return None


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    wctx = WorkerContext.of(ctx)
    result = await service.sweep(wctx.db, wctx.settings, now=clock.now())
    for event_id in result.unprocessed_events:
        # The webhook's own job id: while that job is queued or retrying this is a no-op;
        # once it ended (a failed job keeps no result) the event is handed on again.
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
    try:  # expires, so that sweeps that stopped show as missing numbers, not stale ones
        async with wctx.redis.pipeline(transaction=True) as pipe:
            pipe.hset(STRIPE_INBOX_KEY, mapping=result.inbox.as_mapping())
            pipe.expire(STRIPE_INBOX_KEY, INBOX_HEALTH_TTL_S)
            await pipe.execute()
    except Exception:  # only the gauge is late
        log.warning("billing.inbox_health_not_stored", exc_info=True)
    counts = {
        "events": len(result.unprocessed_events),
        "read_only": result.read_only,
        "trials_ended": result.trials_ended,
        "quantity_syncs": len(result.quantity_due),
    }
    if any(counts.values()):
        log.info("billing.sweep", **counts)
    return counts
