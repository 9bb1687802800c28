"""The brand's analytics in Chromium at phone and desktop widths (screenshots, no sideways
scroll, axe-core), a period chosen with the keyboard, and the page of a brand with nothing
collected yet."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_insights import brand_numbers, head_office


async def test_the_brand_analytics_at_both_widths_and_a_period_by_keyboard(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    page: Page,
) -> None:
    numbers = await brand_numbers(client, admin_engine, app_db)
    await sign_in_browser(page, numbers.office.manager_email)
    await page.goto("/brand/analytics")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Analytics")
    await check_page(page, "brand-analytics")

    await page.get_by_role("link", name="Last 90 days").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/analytics?days=90")
    await expect(page.get_by_role("link", name="Last 90 days")).to_have_attribute(
        "aria-current", "page"
    )
    await check_page(page, "brand-analytics-90")


async def test_a_brand_with_nothing_collected_yet(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    office = await head_office(client, admin_engine)
    await sign_in_browser(page, office.viewer_email)
    await page.goto("/brand/analytics")
    await expect(page.locator(".note").first).to_contain_text("No numbers collected yet")
    await check_page(page, "brand-analytics-empty")
