"""The numbers page as a location's people read it: followers, reach, engagement and rating
over 7, 30 or 90 days beside the period before (absolute and percent change), as SVG charts
with a title and description and the same numbers in tables, formatted for the reader's
language; what it shows before anything is collected; the same statements whatever the data."""

from __future__ import annotations

import re
from html import unescape

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from tests.support.web import StatementCounter, sign_in
from tests.support.web_numbers import a_place, reviews_rated, sixty_days

CELL = r"<t[hd][^>]*>.*?</t[hd]>"


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
