"""The API keys page in Chromium: an owner creates a key with the keyboard, sees its secret
once, goes back to the list (the secret is gone) and revokes it. Each page at 375 and
1440 px with axe-core."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import check_page, sign_in_browser
from tests.support.web_agency import agency_world


async def test_an_owner_creates_a_key_sees_it_once_and_revokes_it(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await agency_world(client, admin_engine, viewer=False)
    await sign_in_browser(page, world.owner.email)
    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    await check_page(page, "agency-api-keys-empty")

    await page.locator("#name").focus()
    await page.keyboard.type("CRM sync")
    await page.keyboard.press("Tab")
    await expect(page.locator("#role")).to_be_focused()
    await page.locator("#role").select_option("admin")
    await page.locator("#name").press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your new API key")
    secret = await page.locator("#secret").input_value()
    assert secret.startswith("chk_")
    await check_page(page, "agency-api-key-created")

    await page.get_by_role("link", name="I have copied it: back to the API keys").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("main table")).to_contain_text("CRM sync")
    assert secret not in await page.content()
    await check_page(page, "agency-api-keys")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Revoke CRM sync").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/api-keys?done=revoked")
    await expect(page.locator("main table")).to_contain_text("Revoked")
