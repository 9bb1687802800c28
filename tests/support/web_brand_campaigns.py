"""A brand's head office for the campaign, brand calendar and brand approval pages
(issue #16): locations in three time zones, two of them in the group "North" with Facebook
connected through the sandbox, a published template using ``campaign.offer``, a brand
manager and a brand viewer of the brand, and another agency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_group, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.campaigns import (
    campaign_body,
    create_campaign,
    launch_and_fan_out,
    publish_template,
)
from tests.support.social_accounts import connect

BODY = "Pizza week in {{ location.city }}: {{ campaign.offer }} #SliceAndCo"
SLOT_BODY = "Pizza in {{ location.city }}: {{ slot.offer }} #{{ campaign.offer }}"
SLOTS: dict[str, Any] = {
    "offer": {"label": "Today's offer", "max_length": 40, "required": True},
}


@dataclass
class HeadOffice:
    owner: Tenant
    brand: dict[str, Any]
    athens: dict[str, Any]
    berlin: dict[str, Any]
    chicago: dict[str, Any]
    """Not in the group, nothing connected."""
    group: dict[str, Any]
    template_id: str
    manager_email: str
    viewer_email: str


async def head_office(client: httpx.AsyncClient, engine: AsyncEngine) -> HeadOffice:
    owner = await sign_up(client)
    brand = await create_brand(client, owner, f"Slice {uuid.uuid4().hex[:4]}")
    athens = await create_location(
        client,
        owner,
        brand["id"],
        name="Athens Slice",
        city="Athens",
        country="GR",
        time_zone="Europe/Athens",
    )
    berlin = await create_location(
        client,
        owner,
        brand["id"],
        name="Berlin Slice",
        city="Berlin",
        country="DE",
        time_zone="Europe/Berlin",
    )
    chicago = await create_location(
        client,
        owner,
        brand["id"],
        name="Chicago Slice",
        city="Chicago",
        country="US",
        time_zone="America/Chicago",
    )
    group = await create_group(client, owner, brand["id"], "North")
    added = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [athens["id"], berlin["id"]]},
        headers=owner.headers,
    )
    assert added.status_code == 200, added.text
    for loc in (athens, berlin):
        await connect(client, owner.headers, loc["id"], "facebook")
    template_id = await publish_template(client, owner, brand["id"], BODY)
    suffix = uuid.uuid4().hex[:8]
    manager_email = f"bm-{suffix}@slice.example"
    viewer_email = f"bv-{suffix}@slice.example"
    await invite_and_accept(
        client, engine, owner, manager_email, "brand_manager", brand_id=brand["id"]
    )
    await invite_and_accept(
        client, engine, owner, viewer_email, "brand_viewer", brand_id=brand["id"]
    )
    return HeadOffice(
        owner, brand, athens, berlin, chicago, group, template_id, manager_email, viewer_email
    )


async def draft(client: httpx.AsyncClient, w: HeadOffice, **fields: Any) -> dict[str, Any]:
    """A draft campaign of the brand on Facebook to the group (API)."""
    given: dict[str, Any] = {
        "audience": {"kind": "groups", "group_ids": [w.group["id"]]},
        "channels": ["facebook"],
        **fields,
    }
    template_id = str(given.pop("template_id", w.template_id))
    body = campaign_body(w.brand["id"], template_id, **given)
    return await create_campaign(client, w.owner.headers, body)


async def import_locations(
    client: httpx.AsyncClient, owner: Tenant, brand_id: str, count: int, prefix: str
) -> None:
    """``count`` active locations of the brand in one CSV import (UTC and Athens)."""
    lines = ["external_ref,name,city,country,time_zone"]
    for n in range(count):
        zone = "UTC" if n % 2 else "Europe/Athens"
        lines.append(f"{prefix}-{n},{prefix} {n:04d},Town {n},GR,{zone}")
    imported = await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        content="\n".join(lines).encode(),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == count, imported.text


async def waiting_for_head_office(
    client: httpx.AsyncClient,
    w: HeadOffice,
    worker_ctx: dict[str, Any],
    *,
    name: str = "Local offers",
) -> list[dict[str, Any]]:
    """A campaign whose template leaves a slot to the locations, under the brand's approval:
    its posts (Athens, Berlin) wait for head office."""
    template_id = await publish_template(client, w.owner, w.brand["id"], SLOT_BODY, slots=SLOTS)
    campaign = await draft(
        client, w, name=name, approval_policy="brand_approval", template_id=template_id
    )
    await launch_and_fan_out(client, w.owner.headers, campaign, worker_ctx, w.owner.agency_id)
    listed = await client.get(
        f"/v1/campaigns/{campaign['id']}/posts", params={"limit": "200"}, headers=w.owner.headers
    )
    posts: list[dict[str, Any]] = listed.json()["items"]
    assert {(p["status"], p["approval_kind"]) for p in posts} == {("needs_approval", "brand")}
    return posts


async def tab_to(page: Page, selector: str, limit: int = 120) -> None:
    """Presses Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")
