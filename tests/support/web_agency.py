"""The world of the agency screens' tests (tests/web/test_agency_*.py): an owner's agency
with two brands, locations, and a brand manager and a brand viewer of the first brand, all
set up through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import invite_and_accept

MANAGER = "brand.manager@agency.example"
VIEWER = "brand.viewer@agency.example"


@dataclass
class AgencyWorld:
    owner: Tenant
    brand: dict[str, Any]
    """"Alpha Pizza": the brand manager's and the brand viewer's."""
    other_brand: dict[str, Any]
    """"Beta Burgers": nobody's but the owner's."""
    location: dict[str, Any]
    other_location: dict[str, Any]
    """At the other brand."""


async def agency_world(
    client: httpx.AsyncClient, engine: AsyncEngine, *, viewer: bool = True
) -> AgencyWorld:
    owner = await sign_up(client)
    brand = await create_brand(client, owner, "Alpha Pizza")
    other_brand = await create_brand(client, owner, "Beta Burgers")
    location = await create_location(client, owner, brand["id"], name="Alpha Athens")
    other = await create_location(client, owner, other_brand["id"], name="Beta Patras")
    await invite_and_accept(client, engine, owner, MANAGER, "brand_manager", brand_id=brand["id"])
    if viewer:
        await invite_and_accept(client, engine, owner, VIEWER, "brand_viewer", brand_id=brand["id"])
    return AgencyWorld(owner, brand, other_brand, location, other)


async def memberships(client: httpx.AsyncClient, owner: Tenant) -> dict[str, dict[str, Any]]:
    """Email → membership, as the API lists them (one membership each in these tests)."""
    listed = await client.get("/v1/members?limit=200", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    return {m["email"]: m for m in listed.json()["items"]}


async def invitations(client: httpx.AsyncClient, owner: Tenant) -> list[dict[str, Any]]:
    listed = await client.get("/v1/invitations?limit=200", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


async def set_billing(engine: AsyncEngine, agency_id: Any, **values: Any) -> None:
    """Puts the agency on a plan and status directly (as tests/test_guard_billing.py does)."""
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO billing_account (agency_id, id, plan, status) "
                "VALUES (:a, gen_random_uuid(), 'pro', 'active') ON CONFLICT DO NOTHING"
            ),
            {"a": agency_id},
        )
        await conn.execute(
            text(f"UPDATE billing_account SET {assignments} WHERE agency_id = :a"),
            {"a": agency_id, **values},
        )


async def add_account(
    engine: AsyncEngine,
    agency_id: Any,
    location: dict[str, Any],
    platform: str = "facebook",
    status: str = "connected",
    last_error: str | None = None,
) -> None:
    """A social account of the location, with a made-up sealed token (never used here)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO social_account (agency_id, id, brand_id, location_id, platform, "
                "external_id, name, kind, status, access_token, last_error, connected_at) "
                "VALUES (:a, gen_random_uuid(), :b, :l, :p, :ext, :name, 'page', :s, "
                ":token, :e, now())"
            ),
            {
                "a": agency_id,
                "b": location["brand_id"],
                "l": location["id"],
                "p": platform,
                "ext": f"ext-{uuid.uuid4().hex[:10]}",
                "name": f"{location['name']} on {platform}",
                "s": status,
                "e": last_error,
                "token": None if status == "revoked" else "made-up",
            },
        )
