"""The audit log in Chromium: an owner filters it by action with the keyboard, then by a
person, and clears the filters. The page at 375 and 1440 px with axe-core."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import check_page, sign_in_browser
from tests.support.web_agency import agency_world


async def test_an_owner_filters_the_audit_log_with_the_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await agency_world(client, admin_engine)
    await sign_in_browser(page, world.owner.email)
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    await expect(page.locator("main table")).to_contain_text("invitation.create")
    await check_page(page, "agency-audit")

    await page.locator("#action").focus()
    await page.keyboard.type("invitation.accept")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/audit?*action=invitation.accept*")
    await expect(page.locator("main tbody tr")).to_have_count(2)
    await expect(page.locator("main table")).not_to_contain_text("invitation.create")

    await page.locator("#object_id").focus()
    await page.keyboard.type("42")
    await page.keyboard.press("Enter")
    await expect(page.locator("#object_id-problem")).to_contain_text("An object id looks like")
    await check_page(page, "agency-audit-problem")

    await page.get_by_role("link", name="Clear the filters").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/audit")
    await expect(page.locator("main table")).to_contain_text("invitation.create")
