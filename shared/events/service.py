"""Writing events to the outbox (in the caller's transaction) and reading a location's."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import Target, authorize
from shared.access.principal import Principal
from shared.events.models import OutboxEvent
from shared.pagination import Slice, count_of, cursor_key, page_of


def emit(
    session: AsyncSession,
    *,
    agency_id: uuid.UUID,
    type: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Adds the event to the current transaction: it exists exactly when the change does."""
    event = OutboxEvent(
        agency_id=agency_id,
        type=type,
        brand_id=brand_id,
        location_id=location_id,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=payload or {},
    )
    session.add(event)
    return event


async def list_location_events(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    location_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[OutboxEvent]:
    """The location's events, newest first (with ``total``, how many there are)."""
    authorize(
        principal,
        "location.read",
        Target(brand_id=brand_id, location_id=location_id),
        object_type="location",
    )
    statement = select(OutboxEvent).where(
        OutboxEvent.agency_id == principal.agency_id, OutboxEvent.location_id == location_id
    )
    count = await count_of(session, statement) if total else None
    if cursor:
        (after,) = cursor_key(cursor, "-id", 1, lambda v: [uuid.UUID(v[0])])
        statement = statement.where(OutboxEvent.id < after)
    rows = list(
        (
            await session.execute(statement.order_by(OutboxEvent.id.desc()).limit(limit + 1))
        ).scalars()
    )
    page = page_of(rows, sort="-id", limit=limit, key=lambda e: [str(e.id)])
    return Slice(page.items, page.next_cursor, count)
