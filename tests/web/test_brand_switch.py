"""The brand screens' frame (issue #16): the people of a brand or of the agency get a brand
navigation for the brand they look at and switch brands from the header; owners and admins
get the agency's; a location's people get neither. The brand is kept on the browser's session
and loaded through the policy, so another agency's brand is the 404 page."""

from __future__ import annotations

import re
from uuid import uuid4

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.web import hidden_value, sign_in


def brand_nav(html: str) -> str | None:
    """The brand navigation's label, or None when the page has none."""
    found = re.search(r'<nav class="nav subnav" aria-label="Brand: ([^"]*)"', html)
    return found.group(1) if found else None


def switcher_brands(html: str) -> list[str]:
    block = re.search(r'<select id="switch-brand" name="brand_id">(.*?)</select>', html, re.S)
    return re.findall(r">([^<]+)</option>", block.group(1)) if block else []


async def test_an_owner_switches_brand_and_it_is_kept(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    await create_brand(client, owner, "Zeta Pizza")
    alpha = await create_brand(client, owner, "Alpha Burgers")
    await sign_in(browser_client, owner.email)

    home = await browser_client.get("/")
    assert switcher_brands(home.text) == ["Alpha Burgers", "Zeta Pizza"]
    assert brand_nav(home.text) == "Alpha Burgers"  # the first by name until one is chosen
    assert 'aria-label="Agency"' in home.text  # an owner also runs the agency

    zeta = next(
        b
        for b in (await client.get("/v1/brands", headers=owner.headers)).json()["items"]
        if b["name"] == "Zeta Pizza"
    )
    switched = await browser_client.post(
        "/switch-brand",
        data={
            "brand_id": zeta["id"],
            "next": "/",
            "csrf_token": hidden_value(home.text, "csrf_token"),
        },
    )
    assert switched.status_code == 303
    assert brand_nav((await browser_client.get("/")).text) == "Zeta Pizza"
    assert alpha["id"] != zeta["id"]


async def test_a_brand_manager_sees_only_their_brand_and_no_agency_screens(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    mine = await create_brand(client, owner, "Mine")
    await create_brand(client, owner, "Not Mine")
    email = f"bm-{uuid4().hex[:8]}@example.com"
    await invite_and_accept(
        client, admin_engine, owner, email, "brand_manager", brand_id=mine["id"]
    )
    await sign_in(browser_client, email)

    home = await browser_client.get("/")
    assert brand_nav(home.text) == "Mine"
    assert switcher_brands(home.text) == []  # one brand: nothing to switch
    assert 'aria-label="Agency"' not in home.text
    assert 'aria-label="Main"' not in home.text  # no location of their own to look after
    # their brand's members and account health, from the brand's navigation
    assert 'href="/agency/members"' in home.text
    assert 'href="/agency/accounts"' in home.text
    assert 'href="/agency/audit"' not in home.text


async def test_another_agencys_brand_is_the_404_page_and_nothing_changes(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    await create_brand(client, owner, "Ours")
    other = await sign_up(client)
    theirs = await create_brand(client, other, "Theirs")
    await sign_in(browser_client, owner.email)
    home = await browser_client.get("/")

    refused = await browser_client.post(
        "/switch-brand",
        data={"brand_id": theirs["id"], "csrf_token": hidden_value(home.text, "csrf_token")},
    )
    assert refused.status_code == 404
    assert "<h1" in refused.text
    assert "Theirs" not in refused.text
    assert brand_nav((await browser_client.get("/")).text) == "Ours"


async def test_a_location_manager_has_no_brand_or_agency_navigation(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner, "Franchise")
    location = await create_location(client, owner, brand["id"], name="Main Street")
    email = f"lm-{uuid4().hex[:8]}@example.com"
    await invite_and_accept(
        client, admin_engine, owner, email, "location_manager", location_id=location["id"]
    )
    await sign_in(browser_client, email)

    home = await browser_client.get("/")
    assert brand_nav(home.text) is None
    assert 'aria-label="Agency"' not in home.text
    assert 'aria-label="Main"' in home.text
    assert switcher_brands(home.text) == []
