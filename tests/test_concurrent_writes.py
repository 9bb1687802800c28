"""Concurrent bulk writers against real PostgreSQL: overlapping work in opposite orders never
deadlocks into a 500, and what they leave behind is right."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, sign_up

HEADER = "external_ref,name,city,country,time_zone,groups"
ROWS = 1000


def _csv(refs: list[int], label: str, groups: str = "") -> str:
    lines = [HEADER] + [
        f"store-{n:05d},{label} {n},Springfield,US,America/Chicago,{groups}" for n in refs
    ]
    return "\r\n".join(lines) + "\r\n"


async def _names(engine: AsyncEngine, tenant: Tenant) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT external_ref, name FROM location WHERE agency_id = :a"),
            {"a": tenant.agency_id},
        )
        return {str(ref): str(name) for ref, name in rows.all()}


async def _memberships(engine: AsyncEngine, tenant: Tenant) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT g.name, count(m.location_id) FROM location_group g "
                "LEFT JOIN location_group_member m ON m.agency_id = g.agency_id "
                "AND m.group_id = g.id WHERE g.agency_id = :a GROUP BY g.name"
            ),
            {"a": tenant.agency_id},
        )
        return {str(name): int(count) for name, count in rows.all()}


async def _import(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, body: str
) -> httpx.Response:
    return await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        content=body.encode(),
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )


async def test_overlapping_imports_in_opposite_orders_both_succeed(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    refs = list(range(ROWS))
    first = await _import(client, owner, brand["id"], _csv(refs, "Seed"))
    assert first.status_code == 200, first.text

    for round_ in range(5):
        forward, backward = await asyncio.gather(
            _import(client, owner, brand["id"], _csv(refs, f"Up{round_}", "North;South")),
            _import(client, owner, brand["id"], _csv(refs[::-1], f"Down{round_}", "South;North")),
        )
        assert forward.status_code == 200, forward.text
        assert backward.status_code == 200, backward.text
        # One after the other, each file whole: every row carries the name the later one
        # gave it, and both files updated every row.
        assert forward.json()["updated"] == backward.json()["updated"] == ROWS
        names = await _names(admin_engine, owner)
        assert len(names) == ROWS
        labels = {name.rsplit(" ", 1)[0] for name in names.values()}
        assert labels in ({f"Up{round_}"}, {f"Down{round_}"})
    assert await _memberships(admin_engine, owner) == {"North": ROWS, "South": ROWS}
