"""Where a role is given (shared/access/scopes.py), from mutants of it that the access-control
tests let live (docs/MUTANTS.md): a brand or location of another agency is not found, and
managers give roles on their own brand or at their own location."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept


async def test_a_role_at_another_agencys_brand_or_location_is_not_found(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    their_brand = await create_brand(client, other)
    their_location = await create_location(client, other, their_brand["id"])
    for scope, what in (
        ({"role": "brand_viewer", "brand_id": their_brand["id"]}, "brand"),
        ({"role": "location_staff", "location_id": their_location["id"]}, "location"),
    ):
        invited = await client.post(
            "/v1/invitations",
            json={"email": f"{what}@agency.example", **scope},
            headers=owner.headers,
        )
        assert invited.status_code == 404, invited.text
        assert invited.json()["detail"] == f"{what} not found"


async def test_a_brand_manager_gives_roles_on_their_own_brand(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    pizza = await create_brand(client, owner, "Pizza")
    manager = await invite_and_accept(
        client, admin_engine, owner, "bm@agency.example", "brand_manager", brand_id=pizza["id"]
    )
    invited = await client.post(
        "/v1/invitations",
        json={"email": "viewer@agency.example", "role": "brand_viewer", "brand_id": pizza["id"]},
        headers=bearer(manager["access_token"]),
    )
    assert invited.status_code == 201, invited.text


async def test_a_location_manager_gives_roles_at_their_own_location(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    pizza = await create_brand(client, owner, "Pizza")
    leeds = await create_location(client, owner, pizza["id"])
    manager = await invite_and_accept(
        client,
        admin_engine,
        owner,
        "lm@agency.example",
        "location_manager",
        location_id=leeds["id"],
    )
    invited = await client.post(
        "/v1/invitations",
        json={
            "email": "staff@agency.example",
            "role": "location_staff",
            "location_id": leeds["id"],
        },
        headers=bearer(manager["access_token"]),
    )
    assert invited.status_code == 201, invited.text
