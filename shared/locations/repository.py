from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    any_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.access.policy import reach
from shared.access.principal import Principal
from shared.db.engine import DriverQuery
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.pagination import count_of
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

_UUIDS = ARRAY(PG_UUID(as_uuid=True))


def _reach_condition(
    brand_ids: Iterable[uuid.UUID] | None, location_ids: Iterable[uuid.UUID] | None
) -> ColumnElement[bool]:
    """Arrays rather than ``IN`` lists, so that the statement is the same for any number of
    ids (the list page compiles it once)."""
    brands = bindparam("reach_brand_ids", None if brand_ids is None else list(brand_ids), _UUIDS)
    locations = bindparam(
        "reach_location_ids", None if location_ids is None else list(location_ids), _UUIDS
    )
    return (Location.brand_id == any_(brands)) | (Location.id == any_(locations))


def _within_reach(stmt: S, principal: Principal) -> S:
    r = reach(principal, "location.read")
    if not r.everything:
        stmt = stmt.where(_reach_condition(r.brand_ids, r.location_ids))
    return stmt


def visible_locations(principal: Principal) -> Select[Location]:
    return _within_reach(scoped(Location, principal), principal)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_values(f: LocationFilter) -> dict[str, Any]:
    """The value of each condition ``f`` asks for, by its parameter name (in a fixed order)."""
    values: dict[str, Any] = {}
    if f.brand_id is not None:
        values["brand_id"] = f.brand_id
    if f.status is not None:
        values["status"] = f.status
    if f.country is not None:
        values["country"] = f.country.upper()
    if f.city is not None:
        values["city"] = f.city.lower()
    if f.q:
        values["name_pattern"] = f"%{_like_escape(f.q)}%"
    if f.group_id is not None:
        values["group_id"] = f.group_id
    return values


def _where_filters(stmt: S, values: dict[str, Any], agency_id: uuid.UUID | None) -> S:
    """The conditions of ``filter_values``, each on a parameter of the same name."""
    if "brand_id" in values:
        stmt = stmt.where(Location.brand_id == bindparam("brand_id", values["brand_id"]))
    if "status" in values:
        stmt = stmt.where(Location.status == bindparam("status", values["status"]))
    if "country" in values:
        stmt = stmt.where(Location.country == bindparam("country", values["country"]))
    if "city" in values:
        stmt = stmt.where(func.lower(Location.city) == bindparam("city", values["city"]))
    if "name_pattern" in values:
        pattern = bindparam("name_pattern", values["name_pattern"], Location.name.type)
        stmt = stmt.where(Location.name.ilike(pattern, escape="\\"))
    if "group_id" in values:
        stmt = stmt.where(
            exists().where(
                LocationGroupMember.agency_id == bindparam("agency_id", agency_id),
                LocationGroupMember.group_id == bindparam("group_id", values["group_id"]),
                LocationGroupMember.location_id == Location.id,
            )
        )
    return stmt


def filtered(stmt: S, f: LocationFilter, principal: Principal) -> S:
    return _where_filters(stmt, filter_values(f), principal.agency_id)


_ORDERS: dict[str, tuple[InstrumentedAttribute[Any], ...]] = {
    "created": (Location.id,),
    "name": (Location.name, Location.id),
    "city": (Location.city, Location.id),
    "updated_at": (Location.updated_at, Location.id),
}
LOCATION_SORTS: dict[str, tuple[InstrumentedAttribute[Any], ...]] = {
    sort: columns for name, columns in _ORDERS.items() for sort in (name, f"-{name}")
}
"""Keyset orders of a location listing, by name (``-``: descending); the last column is
unique (``created``: the id, which is time-ordered)."""


@functools.lru_cache(maxsize=512)
def _page_query(
    fields: tuple[str, ...],
    filters: tuple[str, ...],
    reach_limited: bool,
    sort: str,
    after: bool,
) -> DriverQuery:
    """One compiled query per shape of listing (which filters, which order, first page or
    not): the values are parameters, so every request of that shape shares it."""
    table = Location.__table__
    stmt = select(*(table.c[name] for name in fields)).where(
        Location.agency_id == bindparam("agency_id")
    )
    if reach_limited:
        stmt = stmt.where(_reach_condition(None, None))
    stmt = _where_filters(stmt, dict.fromkeys(filters), None)
    columns = LOCATION_SORTS[sort]
    descending = sort.startswith("-")
    if after:
        bounds = tuple_(*(bindparam(f"after_{i}", type_=c.type) for i, c in enumerate(columns)))
        stmt = stmt.where(tuple_(*columns) < bounds if descending else tuple_(*columns) > bounds)
    order = [c.desc() for c in columns] if descending else columns
    return DriverQuery(stmt.order_by(*order).limit(bindparam("limit", type_=Integer)))


async def location_page(
    session: AsyncSession,
    principal: Principal,
    f: LocationFilter,
    *,
    fields: tuple[str, ...],
    sort: str,
    after: list[Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` visible locations matching ``f``, ordered by ``LOCATION_SORTS[sort]``,
    after the key ``after`` (values of those columns) when given; each row carries the
    columns ``fields``, in that order. Read-only rows, not ``Location`` objects: this is the
    API's busiest read (see ``DriverQuery``)."""
    params = filter_values(f)
    filters = tuple(params)
    params["agency_id"] = principal.agency_id
    r = reach(principal, "location.read")
    if not r.everything:
        params["reach_brand_ids"] = list(r.brand_ids)
        params["reach_location_ids"] = list(r.location_ids)
    if after is not None:
        params.update((f"after_{i}", value) for i, value in enumerate(after))
    params["limit"] = limit
    query = _page_query(fields, filters, not r.everything, sort, after is not None)
    return await query.fetch(session, params)


async def location_count(session: AsyncSession, principal: Principal, f: LocationFilter) -> int:
    """How many visible locations match ``f`` (``include=total``)."""
    return await count_of(session, filtered(visible_locations(principal), f, principal))


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
        # Both sides lowered by PostgreSQL: Python's lower() and a C-locale database's differ
        # past ASCII (Greek, Cyrillic…), and the unique index compares the database's way.
        func.lower(LocationGroup.name) == func.lower(literal(name)),
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
    """Adds the memberships that are missing, in location id order: an insert waits for a
    concurrent insert of the same membership in the order of its rows, so two additions of
    overlapping locations, in whatever order they were sent, cannot each hold one the other
    needs (a deadlock)."""
    if not location_ids:
        return 0
    stmt = (
        insert(LocationGroupMember)
        .values(
            [
                {"agency_id": agency_id, "group_id": group_id, "location_id": location_id}
                for location_id in sorted(set(location_ids))
            ]
        )
        .on_conflict_do_nothing()
        .returning(LocationGroupMember.location_id)
    )
    return len((await session.execute(stmt)).all())


async def remove_members(
    session: AsyncSession, agency_id: uuid.UUID, group_id: uuid.UUID, location_ids: list[uuid.UUID]
) -> int:
    """Removes the memberships, locked first in location id order (a ``DELETE`` locks rows
    in whatever order its plan visits them), so concurrent changes of the same memberships
    wait for each other in one order."""
    if not location_ids:
        return 0
    which = (
        LocationGroupMember.agency_id == agency_id,
        LocationGroupMember.group_id == group_id,
        LocationGroupMember.location_id.in_(location_ids),
    )
    await session.execute(
        select(LocationGroupMember.location_id)
        .where(*which)
        .order_by(LocationGroupMember.location_id)
        .with_for_update()
    )
    stmt = delete(LocationGroupMember).where(*which).returning(LocationGroupMember.location_id)
    return len((await session.execute(stmt)).all())


async def member_count(session: AsyncSession, agency_id: uuid.UUID, group_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        LocationGroupMember.agency_id == agency_id, LocationGroupMember.group_id == group_id
    )
    return int((await session.execute(stmt)).scalar_one())
