"""Recording and reading the audit log. Secrets never enter it."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import authorize
from shared.access.principal import Principal
from shared.audit.context import current_origin
from shared.audit.models import AuditEvent
from shared.errors import BadRequest
from shared.pagination import count_of, decode_cursor, encode_cursor

_SECRET_MARKERS = ("password", "secret", "token", "hash", "key_material")
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str
    id: uuid.UUID | None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        if principal.api_key_id is not None:
            return cls("api_key", principal.api_key_id)
        return cls("user", principal.user_id)


SYSTEM = Actor("system", None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return REDACTED
    return value


def _is_secret(field: str) -> bool:
    lowered = field.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def snapshot(obj: object, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The mapped column values of an ORM object (secrets redacted)."""
    mapper = inspect(type(obj))
    names = list(fields) if fields is not None else [c.key for c in mapper.column_attrs]
    return {name: REDACTED if _is_secret(name) else _jsonable(getattr(obj, name)) for name in names}


def diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """``{field: {"before": x, "after": y}}`` for the fields that changed."""
    before = before or {}
    after = after or {}
    out: dict[str, dict[str, Any]] = {}
    for field in sorted(set(before) | set(after)):
        if field in {"updated_at", "created_at", "agency_id"}:
            continue
        old, new = before.get(field), after.get(field)
        if field in before and field in after and old == new:
            continue
        change: dict[str, Any] = {}
        if field in before:
            change["before"] = REDACTED if _is_secret(field) else _jsonable(old)
        if field in after:
            change["after"] = REDACTED if _is_secret(field) else _jsonable(new)
        out[field] = change
    return out


def record(
    session: AsyncSession,
    *,
    agency_id: uuid.UUID,
    actor: Actor | Principal,
    action: str,
    object_type: str,
    object_id: uuid.UUID | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Adds one event to the current transaction: it commits (or not) with the change."""
    who = actor if isinstance(actor, Actor) else Actor.of(actor)
    origin = current_origin()
    changes: dict[str, Any] = diff(before, after)
    if details:
        changes["_details"] = {k: _jsonable(v) for k, v in details.items() if not _is_secret(k)}
    event = AuditEvent(
        agency_id=agency_id,
        actor_type=who.kind,
        actor_id=who.id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        changes=changes,
        request_id=origin.request_id,
        client_ip=origin.client_ip,
    )
    session.add(event)
    return event


def record_by(
    session: AsyncSession,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: uuid.UUID | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """``record`` for a change the principal made in its own agency (the usual case)."""
    return record(
        session,
        agency_id=principal.agency_id,
        actor=principal,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        details=details,
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    session: AsyncSession,
    principal: Principal,
    filters: AuditFilter,
    *,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> tuple[list[AuditEvent], str | None, int | None]:
    """Newest first. Owners and admins only (``audit.read``). With ``total``, also how
    many events the filters match."""
    authorize(principal, "audit.read")
    stmt = select(AuditEvent).where(AuditEvent.agency_id == principal.agency_id)
    if filters.actor_id:
        stmt = stmt.where(AuditEvent.actor_id == filters.actor_id)
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.object_type:
        stmt = stmt.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        stmt = stmt.where(AuditEvent.object_id == filters.object_id)
    if filters.since:
        stmt = stmt.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        stmt = stmt.where(AuditEvent.occurred_at < filters.until)
    count = await count_of(session, stmt) if total else None
    if cursor:
        (last,) = decode_cursor(cursor, "newest")
        try:
            stmt = stmt.where(AuditEvent.id < uuid.UUID(str(last)))
        except ValueError:
            raise BadRequest(
                "cursor is not valid for this listing", code="invalid_cursor"
            ) from None
    rows = list(
        (await session.execute(stmt.order_by(AuditEvent.id.desc()).limit(limit + 1))).scalars()
    )
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor("newest", [str(rows[-1].id)]), count
    return rows, None, count
