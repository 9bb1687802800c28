"""Reviews across a brand's locations in Chromium: the list and the auto-reply rules at phone
and desktop widths (screenshots, no sideways scroll, axe-core), and a review answered from the
brand list with the keyboard alone."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_insights import from_google, head_office, reviewed_place
from tests.support.web_reviews import BASE, write_reviews


async def test_head_office_answers_a_review_from_the_brand_list_with_the_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    office = await head_office(client, admin_engine)
    nyc = await reviewed_place(admin_engine, office, office.world.nyc)
    boston = await reviewed_place(admin_engine, office, office.world.boston)
    await write_reviews(admin_engine, nyc, 12)
    await write_reviews(
        admin_engine, boston, 1, rating=1, author="Ένας πολύ θυμωμένος πελάτης με μακρύ όνομα",
        text="Κρύα πίτσα 🍕 " + "πολύ " * 200, start=BASE.replace(day=9),
    )  # fmt: skip
    await from_google(admin_engine, boston)
    await sign_in_browser(page, office.manager_email)
    await page.goto("/brand/reviews")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reviews across locations")
    await check_page(page, "brand-reviews")

    link = page.get_by_role(
        "link", name="Answer the review by Ένας πολύ θυμωμένος πελάτης με μακρύ όνομα"
    )
    await link.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(".review-location")).to_have_text("At Boston Slice")
    await check_page(page, "brand-review")
    await page.locator("#text").focus()
    await page.keyboard.type("We are sorry. Please call Boston Slice.")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send reply")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator(".reply-status")).to_contain_text("Reply on its way")
    await expect(page.locator(".reply-text")).to_have_text(
        "We are sorry. Please call Boston Slice."
    )


async def test_the_auto_reply_rules_at_both_widths(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    office = await head_office(client, admin_engine)
    created = await client.post(
        f"/v1/brands/{office.brand_id}/auto-reply-rules",
        json={"name": "Apology", "max_rating": 2, "template": "Sorry, {{ reviewer.first_name }}."},
        headers=office.world.owner.headers,
    )
    assert created.status_code == 201, created.text
    await sign_in_browser(page, office.manager_email)
    await page.goto("/brand/reviews/rules")
    await check_page(page, "brand-review-rules")
    await page.get_by_role("button", name="Add the rule").click()
    await expect(page.locator("#name-problem")).to_have_text("Give the rule a name.")
    await check_page(page, "brand-review-rules-problem")
    await page.goto(f"/brand/reviews/rules/{created.json()['id']}")
    await check_page(page, "brand-review-rule")
