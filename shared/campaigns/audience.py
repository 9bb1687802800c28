"""A campaign's audience as SQL: always the brand's *active* locations, narrowed by groups,
explicit ids or a filter; read in keyset batches (by id) so no step holds them all."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from shared.templating import LOCATION_FIELDS

_COLUMNS = ", ".join(f"l.{c}" for c in (*LOCATION_FIELDS, "custom_fields"))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_IN_GROUPS = (
    "EXISTS (SELECT 1 FROM location_group_member m WHERE m.agency_id = $1 "
    "AND m.location_id = l.id AND m.group_id = ANY({}::uuid[]))"
)


@dataclass(frozen=True, slots=True)
class AudienceSQL:
    """Conditions on ``location l`` with positional parameters ``$1 …``."""

    where: str
    params: tuple[Any, ...]


def audience_sql(
    agency_id: uuid.UUID, brand_id: uuid.UUID, audience: dict[str, Any]
) -> AudienceSQL:
    params: list[Any] = [agency_id, brand_id]
    parts = ["l.agency_id = $1", "l.brand_id = $2", "l.status = 'active'"]

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    def in_groups(group_ids: list[uuid.UUID]) -> str:
        return _IN_GROUPS.format(param(group_ids))

    kind = audience["kind"]
    if kind == "groups":
        parts.append(in_groups([uuid.UUID(str(g)) for g in audience["group_ids"]]))
    elif kind == "locations":
        ids = [uuid.UUID(str(i)) for i in audience["location_ids"]]
        parts.append(f"l.id = ANY({param(ids)}::uuid[])")
    elif kind == "filter":
        f = audience.get("filter") or {}
        if f.get("country"):
            parts.append(f"l.country = {param(str(f['country']).upper())}")
        if f.get("region"):
            parts.append(f"lower(l.region) = {param(str(f['region']).lower())}")
        if f.get("city"):
            parts.append(f"lower(l.city) = {param(str(f['city']).lower())}")
        if f.get("q"):
            parts.append(f"l.name ILIKE {param('%' + _like_escape(str(f['q'])) + '%')}")
        if f.get("group_id"):
            parts.append(in_groups([uuid.UUID(str(f["group_id"]))]))
    elif kind != "all":
        raise ValueError(f"unknown audience kind {kind!r}")
    return AudienceSQL(" AND ".join(parts), tuple(params))


async def driver(session: AsyncSession) -> asyncpg.Connection:
    """The session's own asyncpg connection, inside its open transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    conn: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    return conn


async def count(
    conn: asyncpg.Connection, sql: AudienceSQL, *, up_to: uuid.UUID | None = None
) -> int:
    """How many locations the audience holds (with an id up to ``up_to``, when given)."""
    params = list(sql.params)
    where = sql.where
    if up_to is not None:
        params.append(up_to)
        where += f" AND l.id <= ${len(params)}"
    query = f"SELECT count(*) FROM location l WHERE {where}"  # noqa: S608  (values bound)
    return int(await conn.fetchval(query, *params))


async def before(
    conn: asyncpg.Connection, sql: AudienceSQL, location_id: uuid.UUID, places: int
) -> uuid.UUID | None:
    """The audience's location ``places`` positions before ``location_id`` (by id); None
    when there are not that many."""
    params = [*sql.params, location_id, places]
    n = len(sql.params)
    query = (
        f"SELECT l.id FROM location l WHERE {sql.where} AND l.id <= ${n + 1} "  # noqa: S608
        f"ORDER BY l.id DESC OFFSET ${n + 2} LIMIT 1"
    )
    value: uuid.UUID | None = await conn.fetchval(query, *params)
    return value


async def batch(
    conn: asyncpg.Connection,
    sql: AudienceSQL,
    platforms: list[str],
    *,
    after: uuid.UUID | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The next ``limit`` locations by id after ``after``: ``id``, the template's location
    fields, ``custom_fields``, and their connected accounts on ``platforms`` as two parallel
    arrays ``platforms`` and ``accounts`` (account ids)."""
    params = [*sql.params, limit, platforms]
    where = sql.where
    if after is not None:
        params.append(after)
        where += f" AND l.id > ${len(params)}"
    n = len(sql.params)
    query = (
        f"SELECT l.id, {_COLUMNS}, a.platforms, a.accounts FROM location l "  # noqa: S608
        "LEFT JOIN LATERAL (SELECT array_agg(s.platform) AS platforms, array_agg(s.id) AS accounts "
        "FROM social_account s WHERE s.agency_id = l.agency_id AND s.location_id = l.id "
        f"AND s.status = 'connected' AND s.platform = ANY(${n + 2}::text[])) a ON true "
        f"WHERE {where} ORDER BY l.id LIMIT ${n + 1}"
    )
    return list(await conn.fetch(query, *params))
