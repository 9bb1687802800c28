"""/agency/accounts over HTTP: social-account health across every location the viewer
oversees: what needs reconnecting, at which location of which brand, why, who can fix it
(the location's managers), totals by status; filters by status, brand and platform; a brand
manager sees their brand's, a brand viewer reads without a control that writes, a location's
people get the 403 page; another agency's accounts never show; no N+1."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.web import StatementCounter, sign_in
from tests.support.web_agency import MANAGER, VIEWER, AgencyWorld, add_account, agency_world

SHOP = "shop.manager@agency.example"
EXPIRED = "Facebook says the login expired; sign in again"


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> AgencyWorld:
    built = await agency_world(client, admin_engine)
    await invite_and_accept(
        client,
        admin_engine,
        built.owner,
        SHOP,
        "location_manager",
        location_id=built.location["id"],
    )
    agency = built.owner.agency_id
    await add_account(admin_engine, agency, built.location, "facebook", "needs_reconnect", EXPIRED)
    await add_account(admin_engine, agency, built.location, "instagram", "connected")
    await add_account(
        admin_engine,
        agency,
        built.other_location,
        "google_business",
        "needs_reconnect",
        "the token was revoked at Google",
    )
    await add_account(admin_engine, agency, built.other_location, "x", "revoked")
    return built


async def test_the_owner_sees_what_needs_reconnecting_and_who_can_fix_it(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    assert 'href="/agency/accounts"' in (await browser_client.get("/")).text
    page = await browser_client.get("/agency/accounts")
    assert page.status_code == 200
    text = page.text.replace("&#39;", "'")
    for expected in (
        "Social account health",
        "Needs reconnecting: 2",
        "Connected: 1",
        "Disconnected: 1",
        "Alpha Athens on facebook",
        "Alpha Athens",
        "Alpha Pizza",
        EXPIRED,
        SHOP,
        "Beta Patras on google_business",
        "the token was revoked at Google",
        "No manager at this location: a brand manager of Beta Burgers can.",
    ):
        assert expected in text, expected
    assert "Alpha Athens on instagram" not in text
    assert '<form method="post"' not in page.text.split("<main", 1)[1]


async def test_status_brand_and_platform_filters(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    connected = await browser_client.get("/agency/accounts?status=connected")
    assert "Alpha Athens on instagram" in connected.text
    assert "Alpha Athens on facebook" not in connected.text
    assert 'aria-current="page">Connected: 1' in connected.text
    revoked = await browser_client.get("/agency/accounts?status=revoked")
    assert "Beta Patras on x" in revoked.text
    by_brand = await browser_client.get(f"/agency/accounts?brand={world.brand['id']}")
    assert "Alpha Athens on facebook" in by_brand.text
    assert "Beta Patras" not in by_brand.text.split("<table", 1)[1]
    assert "Needs reconnecting: 1" in by_brand.text
    by_platform = await browser_client.get("/agency/accounts?platform=google_business")
    assert "Beta Patras on google_business" in by_platform.text
    assert "Alpha Athens on facebook" not in by_platform.text
    odd = await browser_client.get("/agency/accounts?status=weird&platform=myspace&brand=x")
    assert odd.status_code == 200
    assert "Needs reconnecting: 2" in odd.text


async def test_a_brand_manager_sees_their_brand_only(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, MANAGER)
    page = await browser_client.get("/agency/accounts")
    assert page.status_code == 200
    assert "Alpha Athens on facebook" in page.text
    assert "Beta Patras" not in page.text
    assert "Needs reconnecting: 1" in page.text


async def test_a_brand_viewer_reads_without_a_control_that_writes(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, VIEWER)
    page = await browser_client.get("/agency/accounts")
    assert page.status_code == 200
    assert "Alpha Athens on facebook" in page.text
    main = page.text.split("<main", 1)[1]
    assert 'method="post"' not in main


async def test_a_locations_manager_gets_the_403_page(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, SHOP)
    assert "/agency/accounts" not in (await browser_client.get("/")).text
    assert (await browser_client.get("/agency/accounts")).status_code == 403


async def test_another_agencys_accounts_never_show(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    stranger = await sign_up(client)
    brand = await create_brand(client, stranger, "Secret Sauce")
    theirs = await create_location(client, stranger, brand["id"], name="Hidden Place")
    await add_account(admin_engine, stranger.agency_id, theirs, "facebook", "needs_reconnect")
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get(f"/agency/accounts?brand={brand['id']}")
    assert "Hidden Place" not in page.text
    assert "Needs reconnecting: 2" in page.text  # their brand id is not a choice: ignored


async def test_the_accounts_page_in_greek(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/accounts", headers={"Accept-Language": "el"})
    assert page.status_code == 200
    assert "<h1>Κατάσταση κοινωνικών λογαριασμών</h1>" in page.text


async def test_the_accounts_page_runs_as_many_statements_for_few_as_for_many(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await sign_in(browser_client, world.owner.email)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/agency/accounts")).status_code == 200
    for n in range(6):
        location = await create_location(
            client, world.owner, world.other_brand["id"], name=f"Beta {n}"
        )
        await invite_and_accept(
            client,
            admin_engine,
            world.owner,
            f"boss{n}@agency.example",
            "location_manager",
            location_id=location["id"],
        )
        await add_account(
            admin_engine, world.owner.agency_id, location, "facebook", "needs_reconnect"
        )
    with StatementCounter(app.state.db.engine) as many:
        page = await browser_client.get("/agency/accounts")
    assert page.status_code == 200
    assert "Needs reconnecting: 8" in page.text
    assert "boss5@agency.example" in page.text
    assert many.count == few.count, many.statements
