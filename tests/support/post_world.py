"""A brand with two locations (Athens time), a location manager and a location staff member
at the first, and a published template: the world of the calendar and post pages' tests.
Posts are made through the API as the owner would; many at once are copied in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import invite_and_accept

BODY = 'Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by") }}'
ZONE = "Europe/Athens"


@dataclass
class PostWorld:
    owner: Tenant
    brand: dict[str, Any]
    here: dict[str, Any]
    """The location the manager and the staff member look after (Athens time)."""
    elsewhere: dict[str, Any]
    manager_email: str
    staff_email: str
    template_id: str


async def build(client: httpx.AsyncClient, admin_engine: AsyncEngine, tag: str) -> PostWorld:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    here = await create_location(
        client, owner, brand["id"], city="Athens", country="GR", time_zone=ZONE
    )
    elsewhere = await create_location(
        client, owner, brand["id"], city="Patras", country="GR", time_zone=ZONE
    )
    manager_email = f"lm-{tag}@agency.example"
    staff_email = f"staff-{tag}@agency.example"
    await invite_and_accept(
        client, admin_engine, owner, manager_email, "location_manager", location_id=here["id"]
    )
    await invite_and_accept(
        client, admin_engine, owner, staff_email, "location_staff", location_id=here["id"]
    )
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand["id"],
            "name": "Daily",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 200}},
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = created.json()["template_id"]
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    return PostWorld(owner, brand, here, elsewhere, manager_email, staff_email, template_id)


async def make_posts(
    client: httpx.AsyncClient,
    world: PostWorld,
    platforms: list[str],
    *,
    at: datetime | None = None,
    offer: str = "2 for 1",
    location: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    body: dict[str, Any] = {
        "template_id": world.template_id,
        "version": 1,
        "platforms": platforms,
        "slot_values": {"offer": offer},
    }
    if at is not None:
        body["scheduled_at"] = at.isoformat()
    made = await client.post(
        f"/v1/locations/{(location or world.here)['id']}/posts",
        json=body,
        headers=world.owner.headers,
    )
    assert made.status_code == 201, made.text
    return list(made.json())


async def copy_post(engine: AsyncEngine, post_id: str, copies: int, step_minutes: int) -> None:
    """``copies`` more posts like ``post_id``, each ``step_minutes`` after the one before
    (straight into the table: the page under test reads them, nothing else needs them)."""
    async with engine.begin() as conn:
        names = (
            await conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'post' AND column_name NOT IN ('id', 'scheduled_at') "
                    "ORDER BY ordinal_position"
                )
            )
        ).scalars()
        columns = ", ".join(names)
        await conn.execute(
            text(
                f"INSERT INTO post (id, scheduled_at, {columns}) "
                f"SELECT gen_random_uuid(), p.scheduled_at + n * :step * interval '1 minute', "
                f"{', '.join('p.' + c for c in columns.split(', '))} "
                "FROM post p, generate_series(1, :copies) AS n WHERE p.id = :id"
            ),
            {"id": post_id, "copies": copies, "step": step_minutes},
        )


async def force(engine: AsyncEngine, sql: str, **params: Any) -> None:
    """A state the world would reach through the worker, set directly (in-flight statuses,
    a failure after a lost answer) where driving the worker there is not what is tested."""
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)
