"""Delivery of queued mail (the outbox row is written with the change that caused it)."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from services.worker.context import WorkerContext
from shared.mail import service as mail_service

log = structlog.get_logger("chorus.worker")


async def deliver(ctx: dict[str, Any], agency_id: str, email_id: str) -> str:
    """Idempotent: a mail already sent or failed, held by another deliverer, or gone is a
    no-op. A failed attempt is recorded on the row; the mail sweep hands it on again when
    its back-off has passed (this job is not retried for it)."""
    wctx = WorkerContext.of(ctx)
    async with wctx.db.transaction(uuid.UUID(agency_id)) as session:
        outcome = await mail_service.deliver(session, wctx.settings, uuid.UUID(email_id))
    if outcome == "missing":
        log.warning("mail.missing", email_id=email_id)
    return outcome
