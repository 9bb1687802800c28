"""A brand with locations for the brand's location pages (HTTP and browser tests share it):
locations imported in one call through the API, social accounts written straight into the
database (connected or needing reconnecting), a brand viewer and a brand manager."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, sign_up
from tests.support.access import invite_and_accept

HEADER = "external_ref,name,city,country,time_zone,status,groups"


@dataclass
class BrandWorld:
    owner: Tenant
    brand: dict[str, Any]


def csv_of(lines: list[str]) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def store_lines(
    n: int, start: int = 1, *, city: str = "Springfield", groups: str = ""
) -> list[str]:
    return [
        f"S{i:05d},Store {i:05d},{city},US,America/Chicago,active,{groups}"
        for i in range(start, start + n)
    ]


async def import_csv(
    client: httpx.AsyncClient, owner: Tenant, brand_id: str, data: bytes
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        content=data,
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def brand_world(
    client: httpx.AsyncClient, name: str = "Slice & Co", owner: Tenant | None = None
) -> BrandWorld:
    owner = owner or await sign_up(client)
    brand = await create_brand(client, owner, name)
    return BrandWorld(owner, brand)


async def locations_of(
    client: httpx.AsyncClient, world: BrandWorld, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/locations",
        params={"brand_id": world.brand["id"], "limit": "100", **params},
        headers=world.owner.headers,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def member(
    client: httpx.AsyncClient, engine: AsyncEngine, world: BrandWorld, role: str
) -> str:
    """A person with ``role`` on the brand; their email (the password is the factories')."""
    email = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:8]}@example.com"
    await invite_and_accept(client, engine, world.owner, email, role, brand_id=world.brand["id"])
    return email


async def add_account(
    engine: AsyncEngine,
    world: BrandWorld,
    location_id: str,
    platform: str = "facebook",
    status: str = "connected",
) -> None:
    """An account of the location, with a made-up sealed token (never used here)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO social_account (agency_id, id, brand_id, location_id, platform, "
                "external_id, name, kind, status, access_token, connected_at) VALUES "
                "(:a, :id, :b, :l, :p, :ext, :name, 'page', :s, 'made-up', now())"
            ),
            {
                "a": world.owner.agency_id,
                "id": uuid.uuid4(),
                "b": world.brand["id"],
                "l": location_id,
                "p": platform,
                "ext": f"ext-{uuid.uuid4().hex[:10]}",
                "name": f"{platform} page",
                "s": status,
            },
        )
