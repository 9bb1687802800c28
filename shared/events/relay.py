"""The outbox relay: delivers events to their consumers, at least once, and their effects
exactly once.

A pass takes unrelayed events of every agency (oldest first, ``FOR UPDATE SKIP LOCKED``, so
relays in several workers share the work), hands each agency's events to the consumers of
their type inside the same transaction, and stamps ``relayed_at``. A consumer's own writes
(a mail queued in the mail outbox, a row) commit together with the stamp: if the pass fails,
neither happened and the next pass does both. Each agency's batch runs in a savepoint: when
a consumer fails on one agency's events, only those roll back and stay unrelayed (tried again
next pass); the other agencies' events are relayed. Consumers must still tolerate seeing an event
again (a job they enqueue after commit may run twice).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tenancy import set_tenant
from shared.events.models import OutboxEvent

log = structlog.get_logger("chorus.events")

SCAN = "outbox_event"

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
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        rows = (
            await session.execute(
                select(OutboxEvent.agency_id, OutboxEvent.id, OutboxEvent.type)
                .where(OutboxEvent.relayed_at.is_(None))
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
        failed: set[uuid.UUID] = set()
        for (agency_id, event_type), batch in grouped.items():
            consumers = self._consumers.get(event_type, [])
            if consumers:
                await set_tenant(session, agency_id, None)
                try:
                    # One agency's events failing (a consumer's bug on its data) must not
                    # hold every other agency's: its writes roll back to this savepoint,
                    # its events stay unrelayed for the next pass, the rest go on.
                    async with session.begin_nested():
                        for consumer in consumers:
                            await consumer(session, agency_id, batch)
                except Exception:
                    log.exception(
                        "relay.consumer_failed",
                        agency_id=str(agency_id),
                        type=event_type,
                        events=len(batch),
                    )
                    failed.update(event.id for event in batch)
        relayed = [r for r in rows if r.id not in failed]
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        await session.execute(
            update(OutboxEvent)
            .where(
                OutboxEvent.id.in_([r.id for r in relayed]),
                OutboxEvent.agency_id.in_({r.agency_id for r in relayed}),
            )
            .values(relayed_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        await session.execute(text("SELECT set_config('app.scan', '', true)"))
        await set_tenant(session, None, None)
        return len(relayed)
