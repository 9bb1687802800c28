"""Billing in Chromium, through a real server and the local Stripe: an owner subscribes to
Starter with the keyboard, meets the app's 402 as an upgrade page when creating an API key,
follows it to billing, changes to Pro, and the key is made. Each page at 375 and 1440 px with
axe-core."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import check_page, sign_in_browser
from tests.support.web_agency import agency_world


async def test_an_owner_upgrades_from_the_402_page_and_the_page_works(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await agency_world(client, admin_engine, viewer=False)
    await sign_in_browser(page, world.owner.email)
    await page.get_by_role("link", name="Billing").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    await expect(page.get_by_role("status")).to_contain_text("Your trial of Enterprise ends on")
    await check_page(page, "agency-billing-trial")

    await page.locator("#plan").focus()
    await page.locator("#plan").select_option("starter")
    await page.keyboard.press("Tab")
    await expect(page.locator("#card")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/billing?done=subscribed", timeout=30_000)
    await expect(page.locator("main")).to_contain_text("Visa ending 4242")
    await expect(page.locator("main")).to_contain_text("Next invoice")
    await check_page(page, "agency-billing")

    await page.goto("/agency/api-keys")
    await page.locator("#name").fill("CRM sync")
    await page.locator("#role").select_option("admin")
    await page.locator("#name").press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your plan does not include this"
    )
    await expect(page.locator("main")).to_contain_text("It is included from the Pro plan.")
    await check_page(page, "agency-upgrade")

    await page.get_by_role("link", name="See the plans and upgrade").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/billing#plans")
    await page.get_by_role("button", name="Change to Pro").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/billing?done=plan", timeout=30_000)
    await expect(page.get_by_role("status")).to_contain_text("The plan was changed.")

    await page.goto("/agency/api-keys")
    await page.locator("#name").fill("CRM sync")
    await page.locator("#role").select_option("admin")
    await page.locator("#name").press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your new API key")
