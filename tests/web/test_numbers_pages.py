"""The numbers page as a location's people read it: followers, reach, engagement and rating
over 7, 30 or 90 days beside the period before (absolute and percent change), as SVG charts
with a title and description and the same numbers in tables, formatted for the reader's
language; what it shows before anything is collected; the same statements whatever the data."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.platforms.types import DailyMetrics
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.metrics import store_metrics
from tests.support.social_accounts import connect
from tests.support.web import StatementCounter, sign_in

CELL = r"<t[hd][^>]*>.*?</t[hd]>"
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


def section(page: str, key: str) -> str:
    """One number's card."""
    found = re.search(
        rf'<section class="card metric" aria-labelledby="{key}-heading">(.*?)</section>',
        page,
        re.DOTALL,
    )
    assert found, f"no {key} card"
    return unescape(found.group(1))


def table_rows(card: str) -> list[list[str]]:
    body = card.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    ]


async def test_before_anything_is_collected_the_page_says_so(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    place = await a_place(client, admin_engine, sandbox)
    await sign_in(browser_client, place.manager)
    page = await browser_client.get("/numbers")
    assert page.status_code == 200
    assert "No numbers collected yet" in page.text
    assert "No reviews were written in these periods." in page.text
    assert "<svg" not in page.text
    assert 'href="/numbers?days=30" aria-current="page"' in page.text


async def test_the_numbers_beside_the_period_before_as_charts_and_tables(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    place = await a_place(client, admin_engine, sandbox)
    await sixty_days(app_db, place)
    await reviews_rated(admin_engine, place, [(1, 4), (10, 5), (40, 3)])
    await sign_in(browser_client, place.manager)

    page = (await browser_client.get("/numbers?days=30")).text
    reach = section(page, "reach")
    assert "3,000" in reach  # 30 × 100
    assert "up 1,500 (+100%)" in reach
    assert "(+100%)" in reach
    assert "The period before: 1,500" in reach
    followers = section(page, "followers")
    assert "1,059" in followers
    assert "up 30" in followers  # 1,059 on the last day; 1,029 on the last day before
    engagement = section(page, "engagements")
    assert "360" in engagement
    assert "up 60 (+20%)" in engagement
    assert "Engagement rate: 3% (engagements ÷ impressions)" in engagement
    rating = section(page, "rating")
    assert "4.5" in rating
    assert "up 1.5 (+50%)" in rating
    assert "Reviews: 2 this period, 1 the period before." in rating

    # each chart is named and described, and the table holds the same days
    assert '<svg class="chart"' in reach
    assert 'aria-labelledby="chart-reach-title chart-reach-desc"' in reach
    assert '<title id="chart-reach-title">Reach, this period and the one before</title>' in reach
    assert "Reach: 3,000 from" in reach
    rows = table_rows(reach)
    assert len(rows) == 30
    assert rows[-1][1:] == ["100", rows[-1][2], "50"]
    assert "Average rating: 4.5 this period, 3 the period before (out of 5)." in rating

    week = table_rows(section((await browser_client.get("/numbers?days=7")).text, "reach"))
    assert len(week) == 7
    quarter = await browser_client.get("/numbers?days=90")
    weeks = table_rows(section(quarter.text, "reach"))
    assert 13 <= len(weeks) <= 14  # by week
    assert sum(int(r[1].replace(",", "")) for r in weeks if r[1] != "—") == 3000 + 1500


async def test_numbers_and_dates_follow_the_readers_language(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    place = await a_place(client, admin_engine, sandbox)
    await sixty_days(app_db, place)
    await sign_in(browser_client, place.manager)
    page = await browser_client.get("/numbers", headers={"Accept-Language": "el-GR,el;q=0.9"})
    assert '<html lang="el">' in page.text
    reach = section(page.text, "reach")
    assert "3.000" in reach
    assert "1.500 (+100%)" in reach
    assert "(+100%)" in reach


async def test_odd_periods_are_a_problem_on_the_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    place = await a_place(client, admin_engine, sandbox)
    await sign_in(browser_client, place.manager)
    for days in ("365", "abc", "-7", "99999999999999999999", "7.5", "שלום"):
        answer = await browser_client.get("/numbers", params={"days": days})
        assert answer.status_code == 422, days
        assert "Choose 7, 30 or 90 days." in answer.text
    await sign_in(browser_client, place.owner.email)  # agency-wide: no location of their own
    owners = await browser_client.get("/numbers")
    assert owners.status_code == 200
    assert "You have no location to look after yet." in owners.text


async def test_the_page_runs_the_same_statements_whatever_the_data_and_period(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
) -> None:
    place = await a_place(client, admin_engine, sandbox)
    await sign_in(browser_client, place.manager)
    await browser_client.get("/numbers")  # warm
    with StatementCounter(app.state.db.engine) as empty:
        assert (await browser_client.get("/numbers?days=7")).status_code == 200
    await sixty_days(app_db, place)
    await reviews_rated(admin_engine, place, [(n, n % 5 + 1) for n in range(150)])
    with StatementCounter(app.state.db.engine) as full:
        assert (await browser_client.get("/numbers?days=90")).status_code == 200
    assert full.count == empty.count, full.statements
