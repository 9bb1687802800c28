"""The brand's templates in Chromium (issue #16): the list, the editor and the reference pass
the page checks at phone and desktop width; a brand manager writes an X text that is too long,
sees the problem appear as they type, fixes it and publishes, with the keyboard alone."""

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


async def test_write_a_too_long_x_text_see_it_live_fix_it_and_publish_by_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    w = await head_office(client, admin_engine)
    rules = await client.put(
        f"/v1/brands/{w.brand['id']}/rules",
        json={"allowed_platforms": ["x", "facebook"]},
        headers=w.owner.headers,
    )
    assert rules.status_code == 200, rules.text
    tid = await create_template(client, w.owner, w.brand["id"], "Friday offer")
    await sign_in_browser(page, w.manager_email)
    await page.goto("/brand/templates")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Templates")
    await check_page(page, "brand-templates")

    await tab_to(page, f"a[href='/brand/templates/{tid}']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/brand/templates/{tid}")
    await expect(page.locator("#template-editor")).to_have_attribute("data-live", "true")
    await check_page(page, "brand-template-editor")

    x_preview = page.locator(".platform-preview", has=page.locator("h3", has_text="X"))
    await expect(x_preview).not_to_have_class("platform-preview has-problems")
    await tab_to(page, "details.platform-part summary")  # X's part, closed: nothing of its own
    await page.keyboard.press("Enter")
    await tab_to(page, "#body-x")
    await page.keyboard.type("Fresh pizza in {{ location.city }}! " + "Best slice in town. " * 14)
    await expect(x_preview.locator(".problem")).to_have_text(
        "The text is 308 characters long; X takes 280."
    )
    await expect(page.locator(".preview-summary")).to_have_text("1 problem to fix.")
    await expect(page.locator("#body-x-problem")).to_have_text(
        "The text is 308 characters long; X takes 280."
    )
    await expect(page.locator("#body-x")).to_have_attribute("aria-invalid", "true")

    await page.keyboard.press("Control+A")
    await page.keyboard.type("Pizza in {{ location.city }} tonight: {{ slot.offer }}")
    await expect(x_preview.locator(".preview-text")).to_have_text(
        "Pizza in Shelbyville tonight: Two for one"
    )
    await expect(x_preview.locator(".problem")).to_have_count(0)
    await expect(page.locator("#body-x-problem")).to_be_hidden()
    await expect(page.locator(".preview-summary")).to_have_text("Ready on every platform.")

    await tab_to(page, "button[value=publish]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**published=1")
    await expect(page.locator(".flash")).to_have_text(
        "Published. This version can no longer change."
    )
    await expect(page.locator(".version-line")).to_contain_text("Published")
    stored = await client.get(f"/v1/templates/{tid}/versions/1", headers=w.owner.headers)
    assert stored.json()["status"] == "published"
    assert stored.json()["bodies"]["x"] == "Pizza in {{ location.city }} tonight: {{ slot.offer }}"
    await check_page(page, "brand-template-published")

    await page.goto("/brand/templates/reference")
    await check_page(page, "brand-templates-reference")
