"""The brand home in Chromium at phone and desktop widths (screenshots, no sideways scroll,
axe-core), and from it, with the keyboard, to the reviews that need an answer."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.approvals import pending_posts
from tests.support.web import check_page, sign_in_browser
from tests.support.web_brand_insights import (
    campaign,
    campaign_posts,
    head_office,
    needs_reconnect,
    reviewed_place,
)
from tests.support.web_reviews import write_reviews


async def test_the_brand_home_at_both_widths_and_on_to_the_reviews(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    office = await head_office(client, admin_engine)
    w = office.world
    await pending_posts(client, w, platforms=("facebook", "x"))
    spring = await campaign(admin_engine, office, "Spring sale with a rather long name to wrap")
    await campaign_posts(
        client, admin_engine, office, spring, ["failed", "published", "scheduled"],
        location=w.boston,
    )  # fmt: skip
    await needs_reconnect(admin_engine, office, w.nyc, "facebook")
    await write_reviews(admin_engine, await reviewed_place(admin_engine, office, w.nyc), 5)
    await sign_in_browser(page, office.manager_email)
    await expect(page.get_by_role("heading", level=1)).to_have_text("What needs head office now")
    await check_page(page, "brand-home")

    await page.get_by_role("link", name="Answer reviews").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/reviews?needs_answer=1")
    await expect(page.get_by_role("checkbox", name="Needs an answer")).to_be_checked()
