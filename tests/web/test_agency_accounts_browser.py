"""Account health in Chromium: an owner sees what needs reconnecting, switches to the
connected accounts and filters by platform with the keyboard. At 375 and 1440 px with
axe-core."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.access import invite_and_accept
from tests.support.web import check_page, sign_in_browser
from tests.support.web_agency import add_account, agency_world


async def test_an_owner_reads_account_health_with_the_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await agency_world(client, admin_engine, viewer=False)
    await invite_and_accept(
        client,
        admin_engine,
        world.owner,
        "shop.manager@agency.example",
        "location_manager",
        location_id=world.location["id"],
    )
    agency = world.owner.agency_id
    await add_account(
        admin_engine, agency, world.location, "facebook", "needs_reconnect", "login expired"
    )
    await add_account(admin_engine, agency, world.other_location, "instagram", "connected")
    await add_account(admin_engine, agency, world.other_location, "x", "connected")
    await sign_in_browser(page, world.owner.email)
    await page.get_by_role("link", name="Account health", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Social account health")
    await expect(page.locator("main table")).to_contain_text("shop.manager@agency.example")
    await check_page(page, "agency-accounts")

    await page.get_by_role("link", name="Connected: 2").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/accounts?status=connected")
    await expect(page.locator("main tbody tr")).to_have_count(2)
    await page.locator("#platform").focus()
    await page.locator("#platform").select_option("x")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/accounts?*platform=x*")
    await expect(page.locator("main tbody tr")).to_have_count(1)
    await expect(page.locator("main table")).to_contain_text("Beta Patras on x")
