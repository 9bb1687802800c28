"""Outbound mail: written to the outbox in the caller's transaction, delivered by a worker
job enqueued after commit. Without an SMTP server configured, delivery is the worker's log.

Exactly once, as far as SMTP allows: the delivery locks the row, sends, and marks it sent
in the same transaction once the server has accepted the mail. A second deliverer skips a
locked row and finds a sent one done. (A commit that fails after the server accepted sends
the mail again later, under the same Message-ID: SMTP offers nothing better.)

A transient failure leaves the mail due again after a back-off (``RETRY_BACKOFF_S``); a
permanent one, or the last attempt, marks it failed. The sweep (``sweep``, every few
seconds in each urgent worker) hands on every mail whose time has come: a retry, or a mail
whose job was lost (Redis restarted, a worker killed).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from arq.connections import ArqRedis
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.config import Settings
from shared.db import Database
from shared.db.hooks import after_commit
from shared.jobs import enqueue
from shared.mail import message as mail_message
from shared.mail import smtp
from shared.mail.models import SCAN, OutboundEmail

log = structlog.get_logger("chorus.mail")

DELIVER_JOB = "mail.deliver"

RETRY_BACKOFF_S: tuple[float, ...] = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
"""Wait before each retry after a transient failure (±20 %): short first (a relay restarting),
then long (an outage); after the last one the mail fails. 9 attempts over about 23 hours."""
MAX_ATTEMPTS = len(RETRY_BACKOFF_S) + 1

LOST_JOB_GRACE = timedelta(seconds=60)
"""A new mail's job normally sends it within seconds; the sweep takes it over after this."""
HANDED_ON_FOR = timedelta(seconds=300)
"""A mail the sweep handed to a job is not handed on again for this long (its job may be
queued behind others); the job itself sets the next time when it fails."""
SWEEP_BATCH = 500
LAST_ERROR_MAX = 1000

Outcome = Literal["sent", "logged", "retry", "failed", "done", "busy", "missing"]
"""What a delivery did: sent over SMTP; written to the log (no SMTP server configured); left
for a retry; failed for good; nothing (``done``: already sent or failed; ``busy``: another
deliverer holds it; ``missing``: no such mail)."""


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
    email = OutboundEmail(
        agency_id=agency_id,
        to_address=to,
        subject=subject,
        body=body,
        kind=kind,
        next_attempt_at=datetime.now(UTC) + LOST_JOB_GRACE,
    )
    session.add(email)
    if redis is not None:

        async def _enqueue() -> None:
            await enqueue_delivery(redis, agency_id, email.id)

        after_commit(session, _enqueue)
    return email


async def enqueue_delivery(redis: ArqRedis, agency_id: uuid.UUID, email_id: uuid.UUID) -> None:
    """One job id per mail: while its job is queued or running, nothing enqueues another."""
    await enqueue(redis, DELIVER_JOB, str(agency_id), str(email_id), job_id=f"mail:{email_id}")


def retry_delay(attempts: int) -> timedelta:
    base = RETRY_BACKOFF_S[min(max(attempts, 1), len(RETRY_BACKOFF_S)) - 1]
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


async def deliver(
    session: AsyncSession,
    settings: Settings,
    email_id: uuid.UUID,
    *,
    now: datetime | None = None,
) -> Outcome:
    """Delivers one mail, in the caller's transaction (the mail's tenant), which must commit
    right after: the row stays locked from before the send until then."""
    email = (
        await session.execute(
            select(OutboundEmail)
            .where(OutboundEmail.id == email_id)
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if email is None:
        exists = await session.scalar(select(OutboundEmail.id).where(OutboundEmail.id == email_id))
        return "busy" if exists is not None else "missing"
    if email.sent_at is not None or email.failed_at is not None:
        return "done"
    now = now or datetime.now(UTC)
    fields = {"email_id": str(email.id), "to": email.to_address, "kind": email.kind}
    if not settings.smtp_host:
        # No server to send to: the log is the mailbox, in full outside production (a
        # developer has no other way to read the link in it); production says what is missing.
        if settings.env == "production":
            log.warning("mail.not_sent", reason="CHORUS_SMTP_HOST is not set", **fields)
        else:
            log.info("mail.delivered", subject=email.subject, body=email.body, **fields)
        email.sent_at = now
        return "logged"
    email.attempts += 1
    try:
        built = mail_message.build(email, sender=settings.smtp_from, now=now)
        await smtp.send(settings, built)
    except (smtp.DeliveryError, ValueError) as exc:
        permanent = not isinstance(exc, smtp.DeliveryError) or exc.permanent
        email.last_error = str(exc)[:LAST_ERROR_MAX]
    except Exception as exc:  # a bug: counted as an attempt, so it cannot go on for ever
        log.exception("mail.delivery_crashed", **fields)
        permanent, email.last_error = False, f"unexpected error: {exc!r}"[:LAST_ERROR_MAX]
    else:
        email.sent_at = now
        email.last_error = None
        log.info("mail.delivered", attempts=email.attempts, **fields)
        return "sent"
    if permanent or email.attempts >= MAX_ATTEMPTS:
        email.failed_at = now
        log.error("mail.failed", attempts=email.attempts, error=email.last_error, **fields)
        return "failed"
    email.next_attempt_at = now + retry_delay(email.attempts)
    log.warning(
        "mail.retry_later",
        attempts=email.attempts,
        error=email.last_error,
        next_attempt_at=email.next_attempt_at.isoformat(),
        **fields,
    )
    return "retry"


_HAND_ON = text(
    """
    UPDATE outbound_email AS m
    SET next_attempt_at = :until
    FROM (
        SELECT agency_id, id FROM outbound_email
        WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= :now
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE m.agency_id = due.agency_id AND m.id = due.id
    RETURNING m.agency_id, m.id
    """
)


async def sweep(db: Database, redis: ArqRedis, now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Hands every due mail (a retry whose time has come, a mail whose job was lost) to a
    delivery job. A mail being delivered right now is locked and skipped."""
    async with db.transaction() as session:
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        rows = (
            await session.execute(
                _HAND_ON, {"now": now, "until": now + HANDED_ON_FOR, "limit": limit}
            )
        ).all()
    for agency_id, email_id in rows:
        try:
            await enqueue_delivery(redis, agency_id, email_id)
        except Exception:  # Redis away: handed on again when HANDED_ON_FOR has passed
            log.warning("mail.sweep_enqueue_failed", email_id=str(email_id), exc_info=True)
    if rows:
        log.info("mail.swept", count=len(rows))
    return len(rows)


def sweeper(redis: ArqRedis) -> Callable[[Database, datetime], Awaitable[int]]:
    """The sweep as the worker's loops call it."""

    async def run(db: Database, now: datetime) -> int:
        return await sweep(db, redis, now)

    return run
