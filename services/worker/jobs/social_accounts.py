"""Token care: a cron finds accounts whose tokens expire soon; one job refreshes each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from services.worker.context import WorkerContext
from shared.jobs import enqueue
from shared.social_accounts import refresh

log = structlog.get_logger("chorus.worker")

REFRESH_JOB = "social_account.refresh"
REFRESH_DUE_JOB = "social_account.refresh_due"


async def refresh_due(ctx: dict[str, Any]) -> int:
    """Enqueue a refresh for every account due one; returns how many were due."""
    wctx = WorkerContext.of(ctx)
    lead = timedelta(seconds=wctx.settings.token_refresh_lead_seconds)
    async with wctx.db.transaction() as session:
        due = await refresh.find_due(session, now=datetime.now(UTC), lead=lead)
    for item in due:
        await enqueue(
            wctx.redis,
            REFRESH_JOB,
            str(item.agency_id),
            str(item.account_id),
            job_id=item.job_id,
        )
    if due:
        log.info("social_account.refresh_due", count=len(due))
    return len(due)


async def refresh_one(ctx: dict[str, Any], agency_id: str, account_id: str) -> str:
    wctx = WorkerContext.of(ctx)
    outcome = await refresh.refresh_account(
        wctx.db, wctx.settings, uuid.UUID(agency_id), uuid.UUID(account_id)
    )
    return outcome.value
