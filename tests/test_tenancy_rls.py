"""Row-level security proven through the application's own pool (role chorus_app)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import Database
from shared.db.base import TENANT_TABLES
from tests.factories import create_brand, create_group, create_location, sign_up

POPULATED = {"agency", "membership", "brand", "location", "location_group", "location_group_member"}


async def _two_agencies(client: httpx.AsyncClient) -> tuple[uuid.UUID, uuid.UUID]:
    a = await sign_up(client)
    b = await sign_up(client)
    for tenant in (a, b):
        brand = await create_brand(client, tenant)
        location = await create_location(client, tenant, brand["id"])
        group = await create_group(client, tenant, brand["id"])
        await client.post(
            f"/v1/location-groups/{group['id']}/members",
            json={"location_ids": [location["id"]]},
            headers=tenant.headers,
        )
    return a.agency_id, b.agency_id


async def test_unfiltered_queries_see_only_the_current_agency(
    client: httpx.AsyncClient, app_db: Database
) -> None:
    agency_a, agency_b = await _two_agencies(client)
    # Many transactions through the same small pool: settings never leak between them.
    for _ in range(3):
        for current, other in ((agency_a, agency_b), (agency_b, agency_a)):
            async with app_db.transaction(current) as session:
                for table in TENANT_TABLES:
                    column = "id" if table == "agency" else "agency_id"
                    rows = (await session.execute(text(f"SELECT {column} FROM {table}"))).all()
                    if table in POPULATED:
                        assert rows, f"{table} shows nothing of the current agency"
                    assert {r[0] for r in rows} <= {current}, f"{table} leaked {other}"


async def test_without_a_tenant_nothing_is_visible(
    client: httpx.AsyncClient, app_db: Database
) -> None:
    await _two_agencies(client)
    async with app_db.transaction() as session:
        for table in TENANT_TABLES:
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, table


async def test_writing_into_another_agency_is_refused(
    client: httpx.AsyncClient, app_db: Database
) -> None:
    agency_a, agency_b = await _two_agencies(client)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_db.transaction(agency_a) as session:
            await session.execute(
                text("INSERT INTO brand (agency_id, id, name) VALUES (:a, :id, 'sneaky')"),
                {"a": agency_b, "id": uuid.uuid4()},
            )


async def test_update_cannot_move_a_row_to_another_agency(
    client: httpx.AsyncClient, app_db: Database
) -> None:
    agency_a, agency_b = await _two_agencies(client)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_db.transaction(agency_a) as session:
            await session.execute(text("UPDATE brand SET agency_id = :b"), {"b": agency_b})


async def test_app_role_owns_nothing_and_cannot_bypass_rls(app_db: Database) -> None:
    async with app_db.transaction() as session:
        row = (
            await session.execute(
                text(
                    "SELECT current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
                    "FROM pg_roles WHERE rolname = current_user"
                )
            )
        ).one()
        assert tuple(row) == ("chorus_app", False, False, False, False)
        owned = (
            await session.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                    "WHERE r.rolname = current_user"
                )
            )
        ).scalar_one()
        assert owned == 0
        forced = (
            await session.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relname = ANY(:t) "
                    "AND relrowsecurity AND relforcerowsecurity"
                ),
                {"t": TENANT_TABLES},
            )
        ).scalars()
        assert set(forced) == set(TENANT_TABLES)
