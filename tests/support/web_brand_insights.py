"""A brand run from head office, for the brand home, brand reviews and brand analytics pages
(issue #16): the approvals world (two locations, posts waiting on the brand, a brand manager)
plus a brand viewer, campaigns, failed posts and accounts needing reconnecting set straight in
the database where driving the worker there is not what is tested."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.platforms.types import DailyMetrics
from tests.factories import create_group
from tests.support.access import invite_and_accept
from tests.support.approvals import World, approval_world, pending_posts
from tests.support.metrics import store_metrics
from tests.support.social_accounts import connect
from tests.support.web_reviews import Place, write_reviews


@dataclass
class HeadOffice:
    world: World
    viewer_email: str

    @property
    def brand_id(self) -> str:
        return str(self.world.brand["id"])

    @property
    def manager_email(self) -> str:
        return "bm@agency.example"


async def head_office(client: httpx.AsyncClient, engine: AsyncEngine) -> HeadOffice:
    world = await approval_world(client, engine)
    viewer_email = f"bv-{uuid.uuid4().hex[:8]}@agency.example"
    await invite_and_accept(
        client, engine, world.owner, viewer_email, "brand_viewer", brand_id=world.brand["id"]
    )
    return HeadOffice(world, viewer_email)


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def campaign(
    engine: AsyncEngine, office: HeadOffice, name: str, status: str = "running"
) -> str:
    """A campaign row of the brand (its posts are given to it with ``campaign_posts``)."""
    campaign_id = str(uuid.uuid4())
    await execute(
        engine,
        "INSERT INTO campaign (agency_id, id, brand_id, name, template_id, template_version, "
        "audience, channels, schedule, status, created_at, updated_at) VALUES (:a, :id, :b, "
        ":name, :t, 1, '{\"kind\": \"all\"}', ARRAY['facebook'], "
        '\'{"kind": "absolute", "at": "2030-06-03T16:00:00+00:00"}\', :status, now(), '
        "now())",
        a=office.world.owner.agency_id,
        id=campaign_id,
        b=office.brand_id,
        name=name,
        t=office.world.template_id,
        status=status,
    )
    return campaign_id


async def campaign_posts(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    office: HeadOffice,
    campaign_id: str | None,
    statuses: list[str],
    *,
    location: dict[str, Any] | None = None,
) -> list[str]:
    """Posts of the campaign (None: the location's own), one per status, each on a platform
    of its own (a campaign has one post per location and platform)."""
    platforms = ("facebook", "x", "linkedin", "google_business")
    assert len(statuses) <= len(platforms)
    made = await pending_posts(
        client,
        office.world,
        location=location,
        platforms=platforms[: len(statuses)],
        at=datetime.now(UTC) + timedelta(days=2),
    )
    ids = [str(p["id"]) for p in made]
    for post_id, status in zip(ids, statuses, strict=True):
        await execute(
            engine,
            "UPDATE post SET campaign_id = CAST(:c AS uuid), status = CAST(:s AS varchar), "
            "approval_kind = NULL, "
            "last_error = CASE WHEN CAST(:s AS varchar) = 'failed' THEN 'the platform refused' "
            "END, "
            "updated_at = now() WHERE id = :id",
            c=campaign_id,
            s=status,
            id=post_id,
        )
    return ids


async def needs_reconnect(
    engine: AsyncEngine, office: HeadOffice, location: dict[str, Any], platform: str
) -> None:
    """A social account of the location the platform stopped accepting."""
    await execute(
        engine,
        "INSERT INTO social_account (agency_id, id, brand_id, location_id, platform, "
        "external_id, name, kind, status, access_token, connected_at, created_at, updated_at) "
        "VALUES (:a, gen_random_uuid(), :b, :l, :p, :ext, 'Page', 'page', 'needs_reconnect', "
        "'x', now(), now(), now())",
        a=office.world.owner.agency_id,
        b=office.brand_id,
        l=location["id"],
        p=platform,
        ext=f"ext-{uuid.uuid4().hex[:8]}",
    )


async def reviewed_place(
    engine: AsyncEngine, office: HeadOffice, location: dict[str, Any]
) -> Place:
    """The location with a Yelp source, ready for ``web_reviews.write_reviews``."""
    source_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO review_source (agency_id, id, brand_id, location_id, source, external_id) "
        "VALUES (:a, :id, :b, :l, 'yelp', :ext)",
        a=office.world.owner.agency_id,
        id=source_id,
        b=office.brand_id,
        l=location["id"],
        ext=f"yelp-{source_id.hex[:8]}",
    )
    return Place(office.world.owner, office.world.brand, location, source_id)


async def on_plan(engine: AsyncEngine, agency_id: uuid.UUID, plan: str) -> None:
    """The agency's plan, set as a subscription change would leave it."""
    await execute(
        engine,
        "INSERT INTO billing_account (agency_id, id, plan, status) "
        "VALUES (:a, gen_random_uuid(), :p, 'active') ON CONFLICT DO NOTHING",
        a=agency_id,
        p=plan,
    )
    await execute(
        engine, "UPDATE billing_account SET plan = :p WHERE agency_id = :a", a=agency_id, p=plan
    )


async def from_google(engine: AsyncEngine, place: Place) -> None:
    """The place's reviews become Google's (a platform that takes replies; where they were
    collected does not matter to the pages)."""
    await execute(
        engine,
        "UPDATE review SET source = 'google_business' WHERE source_id = :id",
        id=place.source_id,
    )


@dataclass
class Numbers:
    office: HeadOffice
    groups: dict[str, str]
    """Group name → id: "East" holds NYC, "Everywhere" both locations, "Empty" none."""


async def brand_numbers(client: httpx.AsyncClient, engine: AsyncEngine, db: Database) -> Numbers:
    """Both locations with a Facebook account and 60 days of numbers (NYC engages more),
    reviews written in the last days (NYC rated higher), and three groups."""
    office = await head_office(client, engine)
    w = office.world
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    for location, engagements, stars in ((w.nyc, 40, 5), (w.boston, 10, 2)):
        account = await connect(client, w.owner.headers, location["id"], "facebook")
        rows = [
            DailyMetrics(
                day=yesterday - timedelta(days=n),
                followers=2000 - n,
                impressions=1000,
                reach=300 if n < 30 else 200,
                engagements=engagements if n < 30 else engagements // 2,
            )
            for n in range(60)
        ]
        assert await store_metrics(db, w.owner.agency_id, account["id"], rows) == 60
        place = await reviewed_place(engine, office, location)
        written = datetime.combine(yesterday - timedelta(days=3), time(9), UTC)
        await write_reviews(engine, place, 3, start=written, rating=stars)
    groups: dict[str, str] = {}
    for name, members in (("East", [w.nyc]), ("Everywhere", [w.nyc, w.boston]), ("Empty", [])):
        group = await create_group(client, w.owner, office.brand_id, name)
        groups[name] = str(group["id"])
        if members:
            added = await client.post(
                f"/v1/location-groups/{group['id']}/members",
                json={"location_ids": [m["id"] for m in members]},
                headers=w.owner.headers,
            )
            assert added.status_code == 200, added.text
    return Numbers(office, groups)
