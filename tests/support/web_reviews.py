"""Locations with reviews, for the web app's reviews pages (the HTTP tests and the browser
tests share them): Yelp reviews written straight into the database, a Google review
collected from the sandbox, a location's member."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.review_collection import sandbox_id
from tests.support.reviews import Shop

BASE = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # 21:30 on Feb 28 in Chicago


@dataclass
class Place:
    owner: Tenant
    brand: dict[str, Any]
    location: dict[str, Any]
    source_id: uuid.UUID


async def yelp_place(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    owner: Tenant | None = None,
    brand: dict[str, Any] | None = None,
) -> Place:
    """A location whose reviews come from Yelp (no account needed), reviews written below."""
    owner = owner or await sign_up(client)
    brand = brand or await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Harbour Road")
    source_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO review_source (agency_id, id, brand_id, location_id, source, "
                "external_id) VALUES (:a, :id, :b, :l, 'yelp', :ext)"
            ),
            {
                "a": owner.agency_id,
                "id": source_id,
                "b": brand["id"],
                "l": location["id"],
                "ext": f"yelp-{source_id.hex[:8]}",
            },
        )
    return Place(owner, brand, location, source_id)


async def write_reviews(
    engine: AsyncEngine, place: Place, count: int, *, start: datetime = BASE, **fixed: Any
) -> list[dict[str, Any]]:
    """``count`` reviews an hour apart from ``start`` (the last the newest); ratings cycle 1..5
    unless ``rating`` is given; a 1- or 2-star review needs attention."""
    rows = []
    for i in range(count):
        rating = fixed.get("rating", i % 5 + 1)
        rows.append(
            {
                "a": place.owner.agency_id,
                "id": uuid.uuid4(),
                "b": place.brand["id"],
                "l": place.location["id"],
                "s": place.source_id,
                "ext": f"r-{uuid.uuid4().hex[:10]}",
                "rating": rating,
                "author": fixed.get("author", f"Reviewer {i:03d}"),
                "text": fixed.get("text", f"Review number {i:03d}."),
                "created": start + timedelta(hours=i),
                "attention": rating <= 2,
            }
        )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO review (agency_id, id, brand_id, location_id, source_id, source, "
                "external_id, rating, author, text, created_at, updated_at, sentiment_score, "
                "sentiment_label, needs_attention, reply_status) VALUES (:a, :id, :b, :l, :s, "
                "'yelp', :ext, :rating, :author, :text, :created, :created, 0, 'neutral', "
                ":attention, 'none')"
            ),
            rows,
        )
    return rows


async def member_of(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    owner: Tenant,
    location_id: str,
    role: str = "location_manager",
) -> str:
    email = f"{role}-{uuid.uuid4().hex[:8]}@shop.example"
    await invite_and_accept(client, engine, owner, email, role, location_id=location_id)
    return email


async def angry_review(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, shop: Shop, author: str
) -> str:
    added = await sandbox.post(
        f"/_sandbox/reviews/google_business/{sandbox_id(shop.account)}",
        json={"rating": 1, "text": "Cold pizza.", "author": author},
    )
    assert added.status_code == 201, added.text
    await shop.collect()
    listed = await client.get(
        "/v1/reviews", params={"location_id": shop.location["id"], "limit": 100},
        headers=shop.owner.headers,
    )  # fmt: skip
    (review,) = [r for r in listed.json()["items"] if r["author"] == author]
    return str(review["id"])
