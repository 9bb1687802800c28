"""The numbers page in Chromium at phone and desktop widths (screenshots, no sideways scroll,
axe-core): with sixty days of numbers and reviews, and before anything is collected."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from tests.support.web import check_page, sign_in_browser
from tests.support.web_numbers import a_place, reviews_rated, sixty_days


async def test_the_numbers_page_at_both_widths(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    page: Page,
) -> None:
    place = await a_place(client, admin_engine, sandbox)
    await sign_in_browser(page, place.manager)
    await page.goto("/numbers")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Numbers")
    await check_page(page, "numbers-empty")

    await sixty_days(app_db, place)
    await reviews_rated(admin_engine, place, [(1, 4), (10, 5), (40, 3)])
    await page.goto("/numbers?days=90")
    await expect(
        page.get_by_role("img", name="Reach, this period and the one before")
    ).to_be_visible()
    await page.get_by_text("Reach as a table").click()  # open one table
    await check_page(page, "numbers")
    await page.get_by_role("link", name="Last 7 days").click()
    await expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute(
        "aria-current", "page"
    )
