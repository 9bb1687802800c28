"""The tenant setting of a transaction (shared/db/tenancy.py), from mutants of it that the
tenancy tests let live (docs/MUTANTS.md): the user half of the setting, and clearing it."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from shared.db import Database
from shared.db.tenancy import set_tenant
from tests.factories import PASSWORD, create_brand, sign_up


async def test_a_login_by_email_alone_finds_the_users_agency(client: httpx.AsyncClient) -> None:
    # Before the agency is known, the user's memberships are visible through the user half of
    # the setting only (row-level security on membership).
    await sign_up(client)
    tenant = await sign_up(client)
    login = await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["agency_id"] == str(tenant.agency_id)


async def test_clearing_the_tenant_hides_the_agency_again(
    client: httpx.AsyncClient, app_db: Database
) -> None:
    # The dispatcher clears it for whoever uses the transaction next.
    tenant = await sign_up(client)
    await create_brand(client, tenant)
    async with app_db.transaction(tenant.agency_id) as session:
        assert (await session.execute(text("SELECT count(*) FROM brand"))).scalar_one() == 1
        await set_tenant(session, None)
        assert (await session.execute(text("SELECT count(*) FROM brand"))).scalar_one() == 0
        await set_tenant(session, tenant.agency_id)
        assert (await session.execute(text("SELECT count(*) FROM brand"))).scalar_one() == 1
