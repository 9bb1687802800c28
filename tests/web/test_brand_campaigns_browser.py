"""Campaigns in Chromium (issue #16): a brand manager builds a campaign at 09:00 local time
for the group "North" with location approval, with the keyboard, launches it, and the
progress page shows its counts; the list, the builder and the progress page pass the page
checks at phone and desktop width."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.jobs import campaigns as campaign_jobs
from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_campaigns import head_office, tab_to


async def test_build_a_local_time_campaign_for_a_group_and_launch_it(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    page: Page,
) -> None:
    w = await head_office(client, admin_engine)
    await sign_in_browser(page, w.manager_email)
    await page.goto("/brand/campaigns")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    await check_page(page, "brand-campaigns-empty")

    await tab_to(page, "a[href='/brand/campaigns/new']")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")
    await tab_to(page, "#name")
    await page.keyboard.type("Pizza week")
    await tab_to(page, "#template")
    await page.select_option("#template", f"{w.template_id}:1")
    # The script checks the form as it changes: the template's value appears (without it,
    # the Check button brings it: tests/web/test_brand_campaigns_pages.py).
    await expect(page.locator("#var-offer")).to_be_visible()
    await expect(page.locator(".reach")).to_have_text("Reaches 3 active locations now.")

    await tab_to(page, "#var-offer")
    await page.keyboard.type("2 for 1")
    await tab_to(page, "#audience-all")
    await page.keyboard.press("ArrowDown")  # → the groups
    await expect(page.locator("#audience-groups")).to_be_checked()
    await tab_to(page, f"[id='group-{w.group['id']}']")
    await page.keyboard.press("Space")
    await expect(page.locator(".reach")).to_have_text("Reaches 2 active locations now.")
    await expect(page.locator("#var-offer")).to_have_value("2 for 1")  # kept as typed
    await tab_to(page, "#channel-facebook")
    await page.keyboard.press("Space")
    await tab_to(page, "#local_time")  # 09:00 on each location's clock, the default
    await tab_to(page, "#policy-none")
    await page.keyboard.press("ArrowDown")  # → each location confirms
    await expect(page.locator("#policy-location_confirm")).to_be_checked()
    await tab_to(page, "button[value=check]")
    await page.keyboard.press("Enter")
    await expect(page.locator(".reach")).to_have_text("Reaches 2 active locations now.")
    await expect(page.locator(".spread")).to_contain_text("across 2 time zones")
    await check_page(page, "brand-campaign-builder")

    await tab_to(page, "button[value=create]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/campaigns/*?done=created")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Pizza week")
    await tab_to(page, "form[action$='/launch'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**?done=launched")
    campaign_id = page.url.split("/brand/campaigns/")[1].split("?")[0]
    await campaign_jobs.fan_out(worker_ctx, str(w.owner.agency_id), campaign_id)

    # The page follows the fan-out by itself (no reload here), and offers what the campaign
    # now running allows.
    counts = page.locator(".campaign-statuses")
    await expect(counts).to_contain_text("Waiting for approval", timeout=15_000)
    await expect(page.locator("form[action$='/pause'] button")).to_be_visible()
    await expect(page.locator(".campaign-waiting")).to_contain_text("Athens Slice")
    await expect(page.locator(".campaign-waiting")).to_contain_text("Berlin Slice")
    await check_page(page, "brand-campaign-progress")

    await page.goto("/brand/campaigns")
    await expect(page.get_by_role("link", name="Pizza week")).to_be_visible()
    await check_page(page, "brand-campaigns")
