"""Outbound mail: written to the outbox in the caller's transaction, delivered by a worker
job enqueued after commit. Without an SMTP relay configured, delivery is the dev log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.hooks import after_commit
from shared.jobs import enqueue
from shared.mail.models import OutboundEmail

log = structlog.get_logger("chorus.mail")

DELIVER_JOB = "mail.deliver"


def queue(
    session: AsyncSession,
    redis: ArqRedis | None,
    *,
    agency_id: uuid.UUID,
    to: str,
    subject: str,
    body: str,
    kind: str,
) -> OutboundEmail:
    email = OutboundEmail(agency_id=agency_id, to_address=to, subject=subject, body=body, kind=kind)
    session.add(email)
    if redis is not None:

        async def _enqueue() -> None:
            await enqueue(
                redis, DELIVER_JOB, str(agency_id), str(email.id), job_id=f"mail:{email.id}"
            )

        after_commit(session, _enqueue)
    return email


async def deliver(
    session: AsyncSession, email_id: uuid.UUID, *, show_body: bool
) -> OutboundEmail | None:
    """Marks the mail sent. ``show_body`` (development only) logs it in full, links included,
    because there is no mailbox to read it from."""
    email = (
        await session.execute(
            select(OutboundEmail).where(OutboundEmail.id == email_id).with_for_update()
        )
    ).scalar_one_or_none()
    if email is None or email.sent_at is not None:
        return email
    fields = {"to": email.to_address, "subject": email.subject, "kind": email.kind}
    if show_body:
        fields["body"] = email.body
    log.info("mail.delivered", **fields)
    email.sent_at = datetime.now(UTC)
    return email
