"""The brand's rules in Chromium (issue #16): the page passes the page checks at phone and
desktop width, and a brand manager bans a word with the keyboard alone and sees which
published template the new rules break."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_templates import create_template, head_office


async def tab_to(page: Page, selector: str, limit: int = 200) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")


async def test_ban_a_word_by_keyboard_and_see_the_template_it_breaks(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    w = await head_office(client, admin_engine)
    await create_template(client, w.owner, w.brand["id"], "Friday offer", publish=True)
    await sign_in_browser(page, w.manager_email)
    await page.goto("/brand/rules")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Brand rules")
    await expect(page.locator(".rules-breaks")).to_contain_text(
        "The 1 published template keeps these rules."
    )
    await check_page(page, "brand-rules")

    await tab_to(page, "#banned_words")
    await page.keyboard.type("pizza")
    await tab_to(page, "button[value=save]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/rules?saved=1")
    await expect(page.locator(".flash")).to_contain_text("Saved.")
    breaks = page.locator(".rules-breaks")
    await expect(breaks).to_contain_text("1 published template breaks these rules:")
    await expect(breaks.locator("a")).to_have_text("Friday offer")
    await expect(breaks).to_contain_text(
        "X, Instagram, Facebook, LinkedIn, Google Business Profile, Pinterest, TikTok, YouTube: "
        "The text uses a word the brand does not allow."
    )
    await check_page(page, "brand-rules-saved")
    rules = await client.get(f"/v1/brands/{w.brand['id']}/rules", headers=w.owner.headers)
    assert rules.json()["banned_words"] == ["pizza"]
