from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import Dialect, Select, Text, TypeDecorator, cast, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import reach
from shared.access.principal import Principal
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.tenancy import scoped


@dataclass(frozen=True, slots=True)
class LocationFilter:
    brand_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    status: str | None = None
    country: str | None = None
    city: str | None = None
    q: str | None = None


S = TypeVar("S", bound=Select[Any])


class _JSONText(TypeDecorator[Any]):
    """A jsonb column read as text and parsed with orjson, several times faster than the
    driver's ``json.loads`` when a page brings fifty of them."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(value)


LOCATION_ROW_COLUMNS = tuple(
    cast(column, _JSONText).label(column.name) if column.name == "custom_fields" else column
    for column in Location.__table__.c
)
_LOCATION_ROWS: Select[Any] = select(*LOCATION_ROW_COLUMNS)
"""Built once: statements are immutable, and coercing every column anew cost the list
endpoint more than its query."""


def _within_reach(stmt: S, principal: Principal) -> S:
    r = reach(principal, "location.read")
    if not r.everything:
        stmt = stmt.where(Location.brand_id.in_(r.brand_ids) | Location.id.in_(r.location_ids))
    return stmt


def visible_locations(principal: Principal) -> Select[Location]:
    return _within_reach(scoped(Location, principal), principal)


def visible_location_rows(principal: Principal) -> Select[Any]:
    """``visible_locations`` as plain rows carrying every column of ``Location`` (no ORM
    objects): for read-only listings."""
    stmt = _LOCATION_ROWS.where(Location.agency_id == principal.agency_id)
    return _within_reach(stmt, principal)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filtered(stmt: S, f: LocationFilter, principal: Principal) -> S:
    if f.brand_id is not None:
        stmt = stmt.where(Location.brand_id == f.brand_id)
    if f.status is not None:
        stmt = stmt.where(Location.status == f.status)
    if f.country is not None:
        stmt = stmt.where(Location.country == f.country.upper())
    if f.city is not None:
        stmt = stmt.where(func.lower(Location.city) == f.city.lower())
    if f.q:
        stmt = stmt.where(Location.name.ilike(f"%{_like_escape(f.q)}%", escape="\\"))
    if f.group_id is not None:
        stmt = stmt.where(
            exists().where(
                LocationGroupMember.agency_id == principal.agency_id,
                LocationGroupMember.group_id == f.group_id,
                LocationGroupMember.location_id == Location.id,
            )
        )
    return stmt


async def get(
    session: AsyncSession, principal: Principal, location_id: uuid.UUID
) -> Location | None:
    stmt = scoped(Location, principal).where(Location.id == location_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def external_ref_owner(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, external_ref: str
) -> uuid.UUID | None:
    stmt = select(Location.id).where(
        Location.agency_id == principal.agency_id,
        Location.brand_id == brand_id,
        Location.external_ref == external_ref,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_group(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID
) -> LocationGroup | None:
    stmt = scoped(LocationGroup, principal).where(LocationGroup.id == group_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def visible_groups(principal: Principal) -> Select[LocationGroup]:
    stmt = scoped(LocationGroup, principal)
    r = reach(principal, "location_group.read")
    if not r.everything:
        stmt = stmt.where(LocationGroup.brand_id.in_(r.brand_ids | r.location_brand_ids))
    return stmt


async def group_name_taken(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    name: str,
    exclude: uuid.UUID | None = None,
) -> bool:
    stmt = select(func.count()).where(
        LocationGroup.agency_id == principal.agency_id,
        LocationGroup.brand_id == brand_id,
        func.lower(LocationGroup.name) == name.lower(),
    )
    if exclude is not None:
        stmt = stmt.where(LocationGroup.id != exclude)
    return bool((await session.execute(stmt)).scalar_one())


async def brand_location_ids(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``ids`` are locations of this brand (anything else is treated as missing)."""
    stmt = select(Location.id).where(
        Location.agency_id == principal.agency_id,
        Location.brand_id == brand_id,
        Location.id.in_(list(ids)),
    )
    return set((await session.execute(stmt)).scalars())


async def add_members(
    session: AsyncSession, agency_id: uuid.UUID, group_id: uuid.UUID, location_ids: list[uuid.UUID]
) -> int:
    if not location_ids:
        return 0
    stmt = (
        insert(LocationGroupMember)
        .values(
            [
                {"agency_id": agency_id, "group_id": group_id, "location_id": location_id}
                for location_id in location_ids
            ]
        )
        .on_conflict_do_nothing()
        .returning(LocationGroupMember.location_id)
    )
    return len((await session.execute(stmt)).all())


async def remove_members(
    session: AsyncSession, agency_id: uuid.UUID, group_id: uuid.UUID, location_ids: list[uuid.UUID]
) -> int:
    stmt = (
        delete(LocationGroupMember)
        .where(
            LocationGroupMember.agency_id == agency_id,
            LocationGroupMember.group_id == group_id,
            LocationGroupMember.location_id.in_(location_ids),
        )
        .returning(LocationGroupMember.location_id)
    )
    return len((await session.execute(stmt)).all())


async def member_count(session: AsyncSession, agency_id: uuid.UUID, group_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        LocationGroupMember.agency_id == agency_id, LocationGroupMember.group_id == group_id
    )
    return int((await session.execute(stmt)).scalar_one())
