"""The calendar in Chromium: month, week and list pass the page checks at phone and desktop
width; on a phone the month reads as a list of the days with posts; filtered and opened
with the keyboard alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.post_world import PostWorld, build, make_posts
from tests.support.web import check_page, sign_in_browser


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> PostWorld:
    return await build(client, admin_engine, "cal-browser")


async def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Presses Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")


async def test_month_week_and_list_at_phone_and_desktop_width(
    client: httpx.AsyncClient, world: PostWorld, page: Page
) -> None:
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    day = at.date().isoformat()
    await make_posts(client, world, ["facebook", "x", "linkedin"], at=at, offer="Ψητό 🍕")
    # Right-to-left text and a 190-character word must not push the page sideways.
    await make_posts(client, world, ["facebook"], at=at, offer="مرحبا " + "W" * 190)
    await sign_in_browser(page, world.manager_email)
    await page.goto(f"/calendar?view=month&date={day}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Calendar")
    await check_page(page, "calendar-month")
    await page.set_viewport_size({"width": 375, "height": 900})
    days = page.locator(".cal-days > li.cal-day:visible")
    # On a phone the month is the list of its days with posts (and today).
    assert await days.count() <= 2
    await expect(page.locator(".cal-post")).to_have_count(4)
    await expect(page.locator(".cal-weekdays")).to_be_hidden()
    await page.set_viewport_size({"width": 1440, "height": 900})
    assert await page.locator(".cal-days > li.cal-day:visible").count() >= 28
    await page.goto(f"/calendar?view=week&date={day}")
    await check_page(page, "calendar-week")
    await page.goto(f"/calendar?view=list&date={day}")
    await expect(page.locator(".cal-excerpt").first).to_contain_text("Ψητό 🍕")
    await check_page(page, "calendar-list")


async def test_filter_and_open_a_post_with_the_keyboard(
    client: httpx.AsyncClient, world: PostWorld, page: Page
) -> None:
    at = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    facebook, x = await make_posts(client, world, ["facebook", "x"], at=at)
    await sign_in_browser(page, world.manager_email)
    await page.goto(f"/calendar?view=list&date={at.date().isoformat()}")
    await tab_to(page, "#filter-platform")
    await page.keyboard.press("ArrowDown")  # Chromium changes a closed select with the arrows
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")  # X, Instagram, Facebook
    await expect(page.locator("#filter-platform")).to_have_value("facebook")
    await tab_to(page, ".cal-filters button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**platform=facebook**")
    await expect(page.locator(f'a[href="/posts/{x["id"]}"]')).to_have_count(0)
    await tab_to(page, f'a[href="/posts/{facebook["id"]}"]')
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/posts/{facebook['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Facebook post")
