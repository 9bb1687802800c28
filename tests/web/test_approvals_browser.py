"""Approvals in Chromium: the queue and one request pass the page checks at phone and desktop
width; the live preview follows the typing (with each slot's problem next to it); the
request is confirmed with the keyboard alone; without script the Preview button does it."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import ARTIFACTS, WebServer, check_page, sign_in_browser
from tests.support.web_approvals import ask_to_confirm, confirm_world

BOTH = ("facebook", "x")


async def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Presses Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")


async def test_confirm_a_request_with_the_keyboard_and_the_live_preview(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    page: Page,
) -> None:
    w = await confirm_world(client, admin_engine, platforms=BOTH)
    posts = await ask_to_confirm(client, w, worker_ctx, channels=BOTH, name="Summer slices")
    await sign_in_browser(page, w.manager_email)
    await page.goto("/approvals")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Posts waiting for your confirmation"
    )
    await check_page(page, "approvals")

    await tab_to(page, "a.action")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Summer slices")
    await check_page(page, "approval")

    await tab_to(page, "#slot-offer")
    await page.keyboard.type("x" * 41)
    problem = page.locator("#slot-offer-problem")
    await expect(problem).to_have_text("Use at most 40 characters.")
    await expect(page.locator("#slot-offer")).to_have_attribute("aria-invalid", "true")
    # Screen readers hear the summary, not the whole preview at each key.
    await expect(page.locator("[data-preview-status=decide]")).to_have_text("1 problem to fix.")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("Δύο σε μία 🍕")
    await expect(problem).to_be_hidden()
    previews = page.locator(".platform-preview .preview-text")
    await expect(previews).to_have_count(2)
    for n in range(2):
        await expect(previews.nth(n)).to_have_text(
            "Pizza in Athens: Δύο σε μία 🍕 (large)  #SliceWeek"
        )
    await check_page(page, "approval-filled")

    await tab_to(page, "button[value=approve]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/approvals?decided=approved")
    await expect(page.locator(".flash")).to_have_text("Confirmed: the posts are scheduled.")
    for post in posts:
        seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
        assert seen["status"] == "scheduled"
        assert seen["text"] == "Pizza in Athens: Δύο σε μία 🍕 (large)  #SliceWeek"


async def test_without_script_the_preview_button_shows_the_preview_and_reject_works(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    browser: Browser,
    web_server: WebServer,
) -> None:
    w = await confirm_world(client, admin_engine)
    [post] = await ask_to_confirm(client, w, worker_ctx, name="No script")
    context = await browser.new_context(
        base_url=web_server.url,
        viewport={"width": 375, "height": 900},
        java_script_enabled=False,
        locale="el-GR",
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    try:
        await sign_in_browser(page, w.manager_email)
        await page.goto(f"/approvals/{post['id']}")
        await page.fill("#slot-offer", "Δωρεάν αναψυκτικό")
        await page.click("button[value=preview]")
        await expect(page.locator(".preview-text")).to_have_text(
            "Pizza in Athens: Δωρεάν αναψυκτικό (large)  #SliceWeek"
        )
        await expect(page.locator("html")).to_have_attribute("lang", "el")
        await page.screenshot(path=str(ARTIFACTS / "approval-no-script-el-375.png"), full_page=True)
        await page.fill("#reason", "Ο φούρνος είναι σε συντήρηση")
        await page.click("form.reject button[type=submit]")
        await page.wait_for_url("**/approvals?decided=rejected")
    finally:
        await context.close()
    seen = (await client.get(f"/v1/posts/{post['id']}", headers=w.h(w.manager))).json()
    assert (seen["status"], seen["decision_comment"]) == (
        "cancelled",
        "Ο φούρνος είναι σε συντήρηση",
    )
