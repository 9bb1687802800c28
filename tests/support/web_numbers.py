"""A location with collected numbers and rated reviews, for the web app's numbers pages (the
HTTP tests and the browser tests share it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.platforms.types import DailyMetrics
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.metrics import store_metrics
from tests.support.social_accounts import connect

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


@dataclass
class Place:
    owner: Tenant
    brand: dict[str, Any]
    location: dict[str, Any]
    account: dict[str, Any]
    manager: str


async def a_place(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient
) -> Place:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Harbour Road")
    account = await connect(client, owner.headers, location["id"], "facebook")
    manager = f"manager-{uuid.uuid4().hex[:8]}@shop.example"
    await invite_and_accept(
        client, admin_engine, owner, manager, "location_manager", location_id=location["id"]
    )
    return Place(owner, brand, location, account, manager)


def day(n: int) -> date:
    """``n`` days before yesterday (0: yesterday, the last day of every period)."""
    return YESTERDAY - timedelta(days=n)


async def sixty_days(db: Database, place: Place) -> None:
    """The last 30 days: reach 100 a day, 12 engagements of 400 impressions, followers
    growing to 1,059; the 30 before: reach 50, 10 engagements, followers from 1,000."""
    rows = [
        DailyMetrics(
            day=day(n),
            followers=1059 - n,
            impressions=400,
            reach=100 if n < 30 else 50,
            engagements=12 if n < 30 else 10,
        )
        for n in range(60)
    ]
    assert await store_metrics(db, place.owner.agency_id, place.account["id"], rows) == 60


async def reviews_rated(engine: AsyncEngine, place: Place, rated: list[tuple[int, int]]) -> None:
    """Yelp reviews (no account needed): (days before yesterday, stars)."""
    source_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO review_source (agency_id, id, brand_id, location_id, source, "
                "external_id) VALUES (:a, :id, :b, :l, 'yelp', :ext)"
            ),
            {
                "a": place.owner.agency_id,
                "id": source_id,
                "b": place.brand["id"],
                "l": place.location["id"],
                "ext": f"yelp-{source_id.hex[:8]}",
            },
        )
        for n, stars in rated:
            written = datetime.combine(day(n), time(12), UTC)
            await conn.execute(
                text(
                    "INSERT INTO review (agency_id, id, brand_id, location_id, source_id, "
                    "source, external_id, rating, created_at, updated_at, sentiment_score, "
                    "sentiment_label) VALUES (:a, :id, :b, :l, :s, 'yelp', :ext, :r, :w, :w, "
                    "0, 'neutral')"
                ),
                {
                    "a": place.owner.agency_id,
                    "id": uuid.uuid4(),
                    "b": place.brand["id"],
                    "l": place.location["id"],
                    "s": source_id,
                    "ext": f"r-{uuid.uuid4().hex[:10]}",
                    "r": stars,
                    "w": written,
                },
            )
