"""The sign-in page in Chromium: with the keyboard alone, at phone and desktop widths."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.factories import PASSWORD, sign_up
from tests.support.web import check_page


async def test_signing_in_with_the_keyboard_alone(client: httpx.AsyncClient, page: Page) -> None:
    tenant = await sign_up(client)
    await page.goto("/login")
    await check_page(page, "login")
    await page.keyboard.press("Tab")  # the skip link
    await page.keyboard.press("Tab")  # the logo link
    await page.keyboard.press("Tab")
    await expect(page.locator("#email")).to_be_focused()
    await page.keyboard.type(tenant.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("What needs you now")
    await check_page(page, "home")
