"""Head office's approval queue in Chromium (issue #16): it passes the page checks at phone
and desktop width; a brand manager selects both waiting posts with the keyboard and approves
them together; the empty queue passes the checks too."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_campaigns import head_office, tab_to, waiting_for_head_office


async def test_approve_the_selected_with_the_keyboard(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    page: Page,
) -> None:
    w = await head_office(client, admin_engine)
    posts = await waiting_for_head_office(client, w, worker_ctx)
    await sign_in_browser(page, w.manager_email)
    await page.goto("/brand/approvals")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Posts waiting for head office")
    await check_page(page, "brand-approvals")

    for post in posts:
        await tab_to(page, f"[id='pick-{post['id']}']")
        await page.keyboard.press("Space")
    await tab_to(page, "button[name=approve][value=selected]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/approvals?approved=2**")
    await expect(page.locator(".flash")).to_have_text("2 posts approved.")
    await expect(page.locator(".note")).to_have_text("Nothing waits for head office.")
    await check_page(page, "brand-approvals-empty")
    for post in posts:
        got = await client.get(f"/v1/posts/{post['id']}", headers=w.owner.headers)
        assert got.json()["status"] == "scheduled"
