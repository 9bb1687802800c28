"""The outbox relay: delivers events to their consumers, at least once, and their effects
exactly once.

A pass takes unrelayed events of every agency (oldest first, ``FOR UPDATE SKIP LOCKED``, so
relays in several workers share the work), hands each agency's events to the consumers of
their type inside the same transaction, and stamps ``relayed_at``. A consumer's own writes
(a mail queued in the mail outbox, a row) commit together with the stamp: if the pass fails,
neither happened and the next pass does both. Each agency's batch runs in a savepoint: when
a consumer fails on one agency's events, only those roll back and stay unrelayed; the other
agencies' events are relayed. The failed ones are tried again after an exponential back-off
(``relay_after``, up to an hour), so they do not come back at the head of every pass: a failing
agency with more events than a pass takes would otherwise hold everyone's. An event tried again
may be relayed after younger ones of its agency. Consumers must still tolerate seeing an event
again (a job they enqueue after commit may run twice).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.backoff import wait_seconds
from shared.db.tenancy import set_tenant
from shared.events.models import OutboxEvent

log = structlog.get_logger("chorus.events")

SCAN = "outbox_event"
BACKOFF_BASE_S = 10.0
BACKOFF_MAX_S = 3600.0
ERROR_CHARS = 500

Consumer = Callable[[AsyncSession, uuid.UUID, list[OutboxEvent]], Awaitable[None]]
"""Called with one agency's events of one type, inside the relay's transaction (the tenant is
set to that agency)."""


class Relay:
    def __init__(self) -> None:
        self._consumers: dict[str, list[Consumer]] = defaultdict(list)

    def on(self, event_type: str, consumer: Consumer) -> None:
        self._consumers[event_type].append(consumer)

    async def relay_once(self, session: AsyncSession, *, limit: int = 500) -> int:
        """One pass in the caller's transaction; how many events it relayed."""
        now = clock.now()
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        rows = (
            await session.execute(
                select(OutboxEvent.agency_id, OutboxEvent.id, OutboxEvent.type)
                .where(
                    OutboxEvent.relayed_at.is_(None),
                    or_(OutboxEvent.relay_after.is_(None), OutboxEvent.relay_after <= now),
                )
                .order_by(OutboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            await session.execute(text("SELECT set_config('app.scan', '', true)"))
            return 0
        # Whole events are loaded only for the types someone consumes (most have no
        # consumer yet and are only stamped).
        wanted = [r.id for r in rows if r.type in self._consumers]
        events = (
            list(
                (
                    await session.execute(select(OutboxEvent).where(OutboxEvent.id.in_(wanted)))
                ).scalars()
            )
            if wanted
            else []
        )
        grouped: dict[tuple[uuid.UUID, str], list[OutboxEvent]] = defaultdict(list)
        for event in events:
            grouped[(event.agency_id, event.type)].append(event)
        failed: list[_Failed] = []
        for (agency_id, event_type), batch in grouped.items():
            consumers = self._consumers.get(event_type, [])
            if consumers:
                ids = [event.id for event in batch]
                attempts = max(event.relay_attempts for event in batch) + 1
                await set_tenant(session, agency_id, None)
                try:
                    # One agency's events failing (a consumer's bug on its data) must not
                    # hold every other agency's: its writes roll back to this savepoint,
                    # its events stay unrelayed for the next pass, the rest go on.
                    async with session.begin_nested():
                        for consumer in consumers:
                            await consumer(session, agency_id, batch)
                except Exception as error:
                    log.exception(
                        "relay.consumer_failed",
                        agency_id=str(agency_id),
                        type=event_type,
                        events=len(batch),
                    )
                    reason = f"{type(error).__name__}: {error}"[:ERROR_CHARS]
                    failed.append(_Failed(agency_id, event_type, ids, attempts, reason))
        failed_ids = {event_id for group in failed for event_id in group.ids}
        relayed = [r for r in rows if r.id not in failed_ids]
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        if relayed:
            await session.execute(
                update(OutboxEvent)
                .where(
                    OutboxEvent.id.in_([r.id for r in relayed]),
                    OutboxEvent.agency_id.in_({r.agency_id for r in relayed}),
                )
                .values(relayed_at=now)
                .execution_options(synchronize_session=False)
            )
        for group in failed:
            await _back_off(session, group, now)
        await session.execute(text("SELECT set_config('app.scan', '', true)"))
        await set_tenant(session, None, None)
        return len(relayed)


@dataclass(frozen=True)
class _Failed:
    """One agency's events of one type whose consumer failed: tried again together."""

    agency_id: uuid.UUID
    type: str
    ids: list[uuid.UUID]
    attempts: int
    reason: str


async def _back_off(session: AsyncSession, batch: _Failed, now: datetime) -> None:
    wait = wait_seconds(batch.attempts, base_s=BACKOFF_BASE_S, max_s=BACKOFF_MAX_S)
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.agency_id == batch.agency_id, OutboxEvent.id.in_(batch.ids))
        .values(
            relay_attempts=batch.attempts,
            relay_after=now + timedelta(seconds=wait),
            relay_error=batch.reason,
        )
        .execution_options(synchronize_session=False)
    )
    log.warning(
        "relay.events_deferred",
        agency_id=str(batch.agency_id),
        type=batch.type,
        events=len(batch.ids),
        attempts=batch.attempts,
        retry_in_s=round(wait, 1),
    )
