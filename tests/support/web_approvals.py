"""A location asked by a campaign to confirm its posts, for the approval and compose tests
(API and web): a brand whose template leaves slots open, a location in Athens with Facebook
and X connected through the sandbox, its manager and staff, and another location."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.campaigns import campaign_body, create_campaign, launch_and_fan_out
from tests.support.social_accounts import connect

BODY = (
    "Pizza in {{ location.city }}: {{ slot.offer }} ({{ slot.size }}) "
    '{{ slot.note | default("") }} #{{ campaign.tag }}'
)
SLOTS: dict[str, Any] = {
    "offer": {
        "label": "Today's offer",
        "help_text": "What the location offers today",
        "max_length": 40,
        "required": True,
    },
    "size": {"label": "Size", "allowed_values": ["small", "large"], "default": "large"},
    "note": {"label": "Note", "max_length": 200},
}


@dataclass
class ConfirmWorld:
    owner: Tenant
    brand: dict[str, Any]
    athens: dict[str, Any]
    """The location the manager and staff work at (Europe/Athens)."""
    patras: dict[str, Any]
    """Another location of the brand (its posts are not theirs)."""
    template_id: str
    manager: dict[str, Any]
    staff: dict[str, Any]
    manager_email: str
    staff_email: str

    def h(self, who: dict[str, Any]) -> dict[str, str]:
        return bearer(who["access_token"])


async def publish(client: httpx.AsyncClient, owner: Tenant, brand_id: str, name: str) -> str:
    created = await client.post(
        "/v1/templates",
        json={"brand_id": brand_id, "name": name, "bodies": {"default": BODY}, "slots": SLOTS},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["template_id"])
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    return template_id


async def confirm_world(
    client: httpx.AsyncClient, engine: AsyncEngine, *, platforms: tuple[str, ...] = ("facebook",)
) -> ConfirmWorld:
    """The world; ``platforms`` are connected at Athens through the sandbox."""
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    athens = await create_location(
        client, owner, brand["id"], city="Athens", name="Athens Slice", time_zone="Europe/Athens"
    )
    patras = await create_location(
        client, owner, brand["id"], city="Patras", name="Patras Slice", time_zone="Europe/Athens"
    )
    for platform in platforms:
        await connect(client, owner.headers, athens["id"], platform)
        await connect(client, owner.headers, patras["id"], platform)
    template_id = await publish(client, owner, brand["id"], "Daily offer")
    suffix = uuid.uuid4().hex[:8]
    manager_email = f"lm-{suffix}@athens.example"
    staff_email = f"staff-{suffix}@athens.example"
    manager = await invite_and_accept(
        client, engine, owner, manager_email, "location_manager", location_id=athens["id"]
    )
    staff = await invite_and_accept(
        client, engine, owner, staff_email, "location_staff", location_id=athens["id"]
    )
    return ConfirmWorld(
        owner, brand, athens, patras, template_id, manager, staff, manager_email, staff_email
    )


async def ask_to_confirm(
    client: httpx.AsyncClient,
    w: ConfirmWorld,
    worker_ctx: dict[str, Any],
    *,
    at: str = "2030-06-03T16:00:00+00:00",
    channels: tuple[str, ...] = ("facebook",),
    locations: tuple[dict[str, Any], ...] | None = None,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """A location_confirm campaign fanned out by the worker's job; its posts (all
    locations), oldest first."""
    audience = [loc["id"] for loc in (locations or (w.athens,))]
    campaign = await create_campaign(
        client,
        w.owner.headers,
        campaign_body(
            w.brand["id"],
            w.template_id,
            name=name or f"Confirm {uuid.uuid4().hex[:6]}",
            approval_policy="location_confirm",
            variables={"tag": "SliceWeek"},
            audience={"kind": "locations", "location_ids": audience},
            channels=list(channels),
            schedule={"kind": "absolute", "at": at},
        ),
    )
    await launch_and_fan_out(client, w.owner.headers, campaign, worker_ctx, w.owner.agency_id)
    listed = await client.get(
        f"/v1/campaigns/{campaign['id']}/posts", params={"limit": "200"}, headers=w.owner.headers
    )
    assert listed.status_code == 200, listed.text
    posts: list[dict[str, Any]] = listed.json()["items"]
    assert {p["status"] for p in posts} == {"needs_approval"}, posts
    return posts
