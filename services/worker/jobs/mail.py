"""Delivery of queued mail (the outbox row is written with the change that caused it)."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from services.worker.context import WorkerContext
from shared.mail import service as mail_service

log = structlog.get_logger("chorus.worker")


async def deliver(ctx: dict[str, Any], agency_id: str, email_id: str) -> bool:
    """Idempotent: a mail already marked sent, or gone, is a logged no-op."""
    wctx = WorkerContext.of(ctx)
    async with wctx.db.transaction(uuid.UUID(agency_id)) as session:
        email = await mail_service.deliver(
            session, uuid.UUID(email_id), show_body=wctx.settings.env != "production"
        )
    if email is None:
        log.warning("mail.missing", email_id=email_id)
        return False
    return True
