"""A campaign whose posts wait for each location's confirmation, for the reminder's tests
(issue #16): the head office of ``web_brand_campaigns`` with a location manager at Athens
and one at Berlin, and a campaign to the group "North" on Facebook under
``location_confirm``, fanned out (one post per location waiting)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.access import invite_and_accept
from tests.support.campaigns import launch_and_fan_out
from tests.support.web_brand_campaigns import HeadOffice, draft, head_office


@dataclass
class Waiting:
    w: HeadOffice
    campaign: dict[str, Any]
    athens_manager: dict[str, Any]
    athens_email: str
    berlin_manager: dict[str, Any]
    berlin_email: str
    posts: dict[str, str]
    """location id → its post's id"""


def bearer(who: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {who['access_token']}"}


async def waiting_campaign(
    client: httpx.AsyncClient, engine: AsyncEngine, worker_ctx: dict[str, Any]
) -> Waiting:
    w = await head_office(client, engine)
    suffix = uuid.uuid4().hex[:6]
    athens_email = f"athens-{suffix}@slice.example"
    berlin_email = f"berlin-{suffix}@slice.example"
    athens_manager = await invite_and_accept(
        client, engine, w.owner, athens_email, "location_manager", location_id=w.athens["id"]
    )
    berlin_manager = await invite_and_accept(
        client, engine, w.owner, berlin_email, "location_manager", location_id=w.berlin["id"]
    )
    campaign = await draft(client, w, name="Pizza week", approval_policy="location_confirm")
    await launch_and_fan_out(client, w.owner.headers, campaign, worker_ctx, w.owner.agency_id)
    listed = await client.get(
        f"/v1/campaigns/{campaign['id']}/posts", params={"limit": "50"}, headers=w.owner.headers
    )
    items = listed.json()["items"]
    assert {(p["status"], p["approval_kind"]) for p in items} == {("needs_approval", "location")}
    posts = {str(p["location_id"]): str(p["id"]) for p in items}
    assert set(posts) == {w.athens["id"], w.berlin["id"]}
    return Waiting(w, campaign, athens_manager, athens_email, berlin_manager, berlin_email, posts)


async def reminder_mails(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    """Every approval digest in the outbox: (to, subject, body), by address."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT to_address, subject, body FROM outbound_email "
                "WHERE kind = 'approval_digest' ORDER BY to_address, created_at"
            )
        )
        return [(r[0], r[1], r[2]) for r in rows.all()]


async def forget_last_reminder(redis: Any, agency_id: uuid.UUID, campaign_id: str) -> None:
    """As if the hour since the last reminder had passed."""
    await redis.delete(f"campaign:reminded:{agency_id}:{campaign_id}")
