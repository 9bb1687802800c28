"""The brand calendar in Chromium (issue #16): month and list pass the page checks at phone
and desktop width; a brand manager filters by group with the keyboard and opens a post."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.campaigns import launch_and_fan_out
from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_campaigns import draft, head_office, tab_to


async def test_brand_calendar_filtered_by_group_with_the_keyboard(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    page: Page,
) -> None:
    w = await head_office(client, admin_engine)
    campaign = await draft(client, w, audience={"kind": "all"})
    await launch_and_fan_out(client, w.owner.headers, campaign, worker_ctx, w.owner.agency_id)
    await sign_in_browser(page, w.manager_email)
    await page.goto("/brand/calendar?view=month&date=2030-06-03")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Brand calendar")
    await expect(page.locator(".cal-post")).to_have_count(3)
    await check_page(page, "brand-calendar-month")

    await tab_to(page, "#filter-group")
    await page.select_option("#filter-group", w.group["id"])
    await tab_to(page, ".cal-filters button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**group={w.group['id']}**")
    await expect(page.locator(".cal-post")).to_have_count(2)
    await expect(page.locator(".cal-days")).not_to_contain_text("Chicago Slice")

    await tab_to(page, "a[href^='/brand/calendar?view=list']")
    await page.keyboard.press("Enter")
    await expect(page.locator(".cal-excerpt").first).to_contain_text("Pizza week in")
    await check_page(page, "brand-calendar-list")
    await tab_to(page, ".cal-post a")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/posts/*")
    await expect(page.locator("main")).to_contain_text("Pizza week in")
