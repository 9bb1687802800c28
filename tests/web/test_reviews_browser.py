"""The reviews pages in Chromium: checked at phone and desktop widths (screenshots, no
sideways scroll, axe-core), and a review answered with the keyboard alone, starting from a
brand's reply template that fills the reply box at once."""

from __future__ import annotations

from datetime import timedelta

import httpx
from arq.connections import RedisSettings, create_pool
from playwright.async_api import Page, expect
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from tests.support.reviews import open_shop, run_worker
from tests.support.web import check_page, sign_in_browser
from tests.support.web_reviews import BASE, angry_review, member_of, write_reviews, yelp_place


async def test_the_reviews_list_at_both_widths(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    place = await yelp_place(client, admin_engine)
    await write_reviews(admin_engine, place, 24)
    await write_reviews(
        admin_engine, place, 1, rating=1, author="Ένας πολύ θυμωμένος πελάτης με μακρύ όνομα",
        text="Κρύα πίτσα 🍕 " + "πολύ " * 300, start=BASE + timedelta(days=2),
    )  # fmt: skip
    await sign_in_browser(
        page, await member_of(client, admin_engine, place.owner, place.location["id"])
    )
    await page.goto("/reviews")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reviews")
    await check_page(page, "reviews")
    await page.goto("/reviews?rating=9")
    await check_page(page, "reviews-problem")


async def test_a_review_answered_with_the_keyboard_from_a_template(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    page: Page,
) -> None:
    shop = await open_shop(client, app_db, redis, settings)
    await angry_review(client, sandbox, shop, "Rita Moreno")
    rule = await client.post(
        f"/v1/brands/{shop.brand['id']}/auto-reply-rules",
        json={
            "name": "Apology",
            "max_rating": 2,
            "enabled": True,
            "template": "Sorry, {{ reviewer.first_name }}. Please call {{ location.name }}.",
        },
        headers=shop.owner.headers,
    )
    assert rule.status_code == 201, rule.text
    staff = await member_of(client, admin_engine, shop.owner, shop.location["id"], "location_staff")
    await sign_in_browser(page, staff)
    await page.goto("/reviews?needs_answer=1")
    await page.get_by_role("link", name="Answer the review by Rita Moreno").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Review by Rita Moreno")
    await check_page(page, "review")

    await page.focus("#template")
    await page.keyboard.press("ArrowDown")  # the first template: the box fills at once
    box = page.locator("#text")
    await expect(box).to_have_value("Sorry, Rita. Please call Main Street.")
    await page.keyboard.press("Tab")  # the chooser's own button (for pages without script)
    await page.keyboard.press("Tab")
    await expect(box).to_be_focused()
    await page.keyboard.press("End")
    await page.keyboard.press("Control+End")
    await page.keyboard.type(" We will make it right.")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send reply")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator(".reply-status")).to_contain_text("Reply on its way")
    await expect(page.locator(".reply-text")).to_have_text(
        "Sorry, Rita. Please call Main Street. We will make it right."
    )
    await check_page(page, "review-on-its-way")

    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await run_worker(pool, settings)
    finally:
        await pool.aclose()
    await page.reload()
    await expect(page.locator(".reply-status")).to_contain_text("Reply sent")
    await check_page(page, "review-sent")
