"""A world of agencies, brands and members awaiting approvals, and its pending posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept

BODY = 'Fresh pizza in {{ location.city }}! {{ slot.offer | default("Come by") }}'


@dataclass
class World:
    owner: Tenant
    brand: dict[str, Any]
    nyc: dict[str, Any]
    boston: dict[str, Any]
    template_id: str
    manager: dict[str, Any]
    """location_manager at NYC"""
    staff: dict[str, Any]
    """location_staff at NYC"""
    brand_manager: dict[str, Any]
    outsider: Tenant

    def h(self, who: dict[str, Any]) -> dict[str, str]:
        return bearer(who["access_token"])


async def approval_world(client: httpx.AsyncClient, engine: AsyncEngine) -> World:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    nyc = await create_location(client, owner, brand["id"], city="New York", name="NYC Slice")
    boston = await create_location(client, owner, brand["id"], city="Boston", name="Boston Slice")
    rules = await client.put(
        f"/v1/brands/{brand['id']}/rules",
        json={"location_edits_need_approval": True},
        headers=owner.headers,
    )
    assert rules.status_code == 200, rules.text
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand["id"],
            "name": "Friday",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 40}},
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["template_id"])
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    manager = await invite_and_accept(
        client, engine, owner, "lm@agency.example", "location_manager", location_id=nyc["id"]
    )
    staff = await invite_and_accept(
        client, engine, owner, "staff@agency.example", "location_staff", location_id=nyc["id"]
    )
    brand_manager = await invite_and_accept(
        client, engine, owner, "bm@agency.example", "brand_manager", brand_id=brand["id"]
    )
    outsider = await sign_up(client)
    return World(owner, brand, nyc, boston, template_id, manager, staff, brand_manager, outsider)


async def pending_posts(
    client: httpx.AsyncClient,
    w: World,
    *,
    location: dict[str, Any] | None = None,
    platforms: tuple[str, ...] = ("facebook",),
    at: datetime | None = None,
    offer: str = "2 for 1",
) -> list[dict[str, Any]]:
    """Posts a location writes itself: they wait for the brand's approval."""
    location = location or w.nyc
    when = at or datetime.now(UTC) + timedelta(days=1)
    created = await client.post(
        f"/v1/locations/{location['id']}/posts",
        json={
            "template_id": w.template_id,
            "version": 1,
            "platforms": list(platforms),
            "slot_values": {"offer": offer},
            "scheduled_at": when.isoformat(),
        },
        headers=w.owner.headers,
    )
    assert created.status_code == 201, created.text
    posts: list[dict[str, Any]] = created.json()
    assert {p["status"] for p in posts} == {"needs_approval"}
    return posts
