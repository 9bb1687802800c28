"""Post from a template in Chromium: the page passes the page checks at phone and desktop
width, the preview follows the typing and the platforms ticked, and the whole flow (choose
the template, fill a slot, tick a platform, post) works with the keyboard alone."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import check_page, sign_in_browser
from tests.support.web_approvals import confirm_world


async def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")


async def test_post_from_a_template_with_the_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, sandbox: httpx.AsyncClient, page: Page
) -> None:
    w = await confirm_world(client, admin_engine)
    rules = await client.put(
        f"/v1/brands/{w.brand['id']}/rules",
        json={"allowed_platforms": ["facebook", "x"]},
        headers=w.owner.headers,
    )
    assert rules.status_code == 200, rules.text
    await sign_in_browser(page, w.manager_email)
    await page.goto("/posts/new")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Post from a template")
    await check_page(page, "compose-choose")

    await tab_to(page, "#template_id")
    await page.keyboard.press("ArrowDown")  # the first (only) template
    await tab_to(page, ".template-chooser button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/posts/new?template_id=*")
    await check_page(page, "compose")

    await tab_to(page, "#slot-offer")
    await page.keyboard.type("Free soda 🥤 שלום")
    await expect(page.locator(".preview-text")).to_have_text(
        "Pizza in Athens: Free soda 🥤 שלום (large)  #"
    )
    await tab_to(page, "#platform-x")
    await page.keyboard.press("Space")
    await expect(page.locator(".platform-preview h3")).to_have_text(["X", "Facebook"])
    await expect(page.locator("#platform-x-warning")).to_contain_text("No connected account")
    await check_page(page, "compose-filled")
    await tab_to(page, "button[value=create]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/calendar?date=*")
    async with admin_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT platform, status FROM post WHERE location_id = :l ORDER BY platform"),
                {"l": w.athens["id"]},
            )
        ).all()
    assert [tuple(r) for r in rows] == [("facebook", "scheduled"), ("x", "scheduled")]
