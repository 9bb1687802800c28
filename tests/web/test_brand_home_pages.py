"""The brand home (issue #16): ``/`` for head office (a brand's people, or the agency's, with
no location of their own) says what needs them now, each thing linking where it is fixed;
a brand viewer sees the same counts without the approvals queue's link; a location's people
keep their own home; another brand's posts never show; the page reads in a fixed number of
statements whatever the brand holds; it reads in Greek."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location
from tests.support.approvals import pending_posts
from tests.support.web import StatementCounter, sign_in
from tests.support.web_brand_insights import (
    campaign,
    campaign_posts,
    head_office,
    needs_reconnect,
    reviewed_place,
)
from tests.support.web_reviews import write_reviews


def cards(html: str) -> list[str]:
    return re.findall(r"<h2>([^<]+)</h2>", html)


async def test_head_office_sees_what_needs_it_and_where_each_is_fixed(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office = await head_office(client, admin_engine)
    w = office.world
    await pending_posts(client, w, platforms=("facebook", "x"))
    spring = await campaign(admin_engine, office, "Spring sale")
    await campaign_posts(
        client, admin_engine, office, spring, ["failed", "failed", "published", "scheduled"],
        location=w.boston,
    )  # fmt: skip
    await campaign_posts(client, admin_engine, office, None, ["failed"])
    await needs_reconnect(admin_engine, office, w.nyc, "facebook")
    await needs_reconnect(admin_engine, office, w.nyc, "x")
    place = await reviewed_place(admin_engine, office, w.boston)
    await write_reviews(admin_engine, place, 5)  # two of them (1 and 2 stars) need an answer
    await sign_in(browser_client, office.manager_email)

    home = await browser_client.get("/")

    assert home.status_code == 200
    assert "What needs head office now" in home.text
    assert cards(home.text) == [
        "2 posts wait for head office's approval",
        "3 posts failed in the last 14 days",
        "2 social accounts need reconnecting",
        "2 reviews need an answer",
        "Campaigns under way",
    ]
    assert 'href="/brand/approvals"' in home.text
    assert "NYC Slice" in home.text  # the location each waiting post is for
    assert f'<a href="/brand/campaigns/{spring}">Spring sale</a>' in home.text
    assert "2 failed" in home.text
    assert 'href="/brand/calendar?status=failed"' in home.text  # the locations' own posts
    assert "At 1 location." in home.text
    assert 'href="/brand/locations?health=needs_reconnect"' in home.text
    assert 'href="/brand/reviews?needs_answer=1"' in home.text
    assert "1 of 4 posts published" in home.text
    # a brand manager has no agency screens (their brand's account health is in its navigation)
    assert "Account health across the agency" not in home.text
    assert 'aria-label="Agency"' not in home.text


async def test_a_brand_viewer_sees_the_counts_but_not_the_queue_and_nothing_of_another_brand(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office = await head_office(client, admin_engine)
    w = office.world
    await pending_posts(client, w)
    other = await create_brand(client, w.owner, "Other brand")
    await create_location(client, w.owner, other["id"], name="Elsewhere")
    await sign_in(browser_client, office.viewer_email)

    home = await browser_client.get("/")

    assert "1 post waits for head office's approval" in home.text
    assert 'href="/brand/approvals"' not in home.text  # viewers do not approve
    assert "<form" not in home.text.split('<main id="main">')[1]  # no button that writes
    assert "Other brand" not in home.text


async def test_an_owner_looks_at_the_brand_they_chose_and_at_agency_account_health(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office = await head_office(client, admin_engine)
    await needs_reconnect(admin_engine, office, office.world.boston, "facebook")
    await sign_in(browser_client, office.world.owner.email)

    home = await browser_client.get("/")

    assert "1 social account needs reconnecting" in home.text
    assert 'href="/agency/accounts"' in home.text


async def test_a_quiet_brand_says_nothing_needs_head_office(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office = await head_office(client, admin_engine)
    await sign_in(browser_client, office.manager_email)

    home = await browser_client.get("/")

    assert "Nothing needs head office right now." in home.text
    assert "No campaign is under way." in home.text


async def test_a_location_manager_keeps_the_location_home(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    await head_office(client, admin_engine)
    await sign_in(browser_client, "lm@agency.example")

    home = await browser_client.get("/")

    assert "What needs you now" in home.text
    assert "head office" not in home.text


async def test_the_home_reads_the_same_statements_for_a_busy_brand(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
) -> None:
    office = await head_office(client, admin_engine)
    w = office.world
    first = await campaign(admin_engine, office, "First")
    await campaign_posts(client, admin_engine, office, first, ["failed", "scheduled"])
    await sign_in(browser_client, office.manager_email)
    await browser_client.get("/")
    with StatementCounter(app.state.db.engine) as few:
        await browser_client.get("/")

    for n in range(6):
        more = await campaign(admin_engine, office, f"Campaign {n}")
        await campaign_posts(
            client, admin_engine, office, more, ["failed", "published", "scheduled"],
            location=w.boston,
        )  # fmt: skip
    await pending_posts(client, w, platforms=("facebook", "x", "linkedin"))
    for platform in ("facebook", "x", "instagram"):
        await needs_reconnect(admin_engine, office, w.boston, platform)
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/")

    assert "7 campaigns under way in all." in page.text
    assert "7 posts failed in the last 14 days" in page.text
    assert page.text.count('href="/brand/campaigns/') == 5 + 5  # five of each list
    assert many.count == few.count


async def test_the_brand_home_reads_in_greek(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    office = await head_office(client, admin_engine)
    await sign_in(browser_client, office.manager_email)

    home = await browser_client.get("/", headers={"Accept-Language": "el"})

    assert '<html lang="el">' in home.text
    assert "Τι χρειάζεται η κεντρική διοίκηση τώρα" in home.text
