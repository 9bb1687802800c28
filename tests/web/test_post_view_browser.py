"""One post's page in Chromium: a post that failed at the platform (the sandbox refused the
account's login) is retried from its page with the keyboard after reconnecting, and goes
out (sandbox count 1); rescheduling and cancelling from the page; each state passes the
page checks at phone and desktop width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Dialog, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.publishing.publisher import Publisher
from tests.support.post_world import PostWorld, build, make_posts
from tests.support.publishing import counts, cycle, state
from tests.support.social_accounts import connect
from tests.support.web import check_page, sign_in_browser


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> PostWorld:
    return await build(client, admin_engine, "post-browser")


async def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")


async def test_a_failed_post_is_retried_from_its_page_and_goes_out(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    publisher: Publisher,
    world: PostWorld,
    page: Page,
) -> None:
    await connect(client, world.owner.headers, world.here["id"], "x")
    (made,) = await make_posts(client, world, ["x"], offer="Retried")
    await sandbox.put("/_sandbox/faults/x", json={"error_rates": {"auth_revoked": 1.0}})
    await cycle(app_db, publisher)
    await sandbox.put("/_sandbox/faults/x", json={})
    assert (await state(admin_engine, made["id"]))["status"] == "failed"

    await sign_in_browser(page, world.manager_email)
    await page.goto(f"/posts/{made['id']}")
    await expect(page.locator(".post-status")).to_have_text("Failed")
    await expect(page.locator(".facts")).to_contain_text("Reconnect")  # the platform's cause
    await check_page(page, "post-failed")

    await connect(client, world.owner.headers, world.here["id"], "x")  # reconnected
    await page.reload()
    await tab_to(page, "form[action$='/retry'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**?done=retried")
    await expect(page.locator(".flash")).to_have_text("The post will be tried again.")
    await expect(page.locator(".post-status")).to_have_text("Scheduled")
    assert await cycle(app_db, publisher) == 1
    await page.reload()
    await expect(page.locator(".post-status")).to_have_text("Published")
    await expect(page.get_by_role("link", name="See it on X")).to_be_visible()
    await check_page(page, "post-published")
    assert (await counts(sandbox, "x")).get(made["id"]) == 1  # sent once, not twice


async def test_reschedule_and_cancel_from_the_page(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, world: PostWorld, page: Page
) -> None:
    at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    # Right-to-left text and a 190-character word must not push the page sideways.
    facebook, _ = await make_posts(
        client, world, ["facebook", "x"], at=at, offer="مرحبا " + "W" * 190
    )
    await sign_in_browser(page, world.manager_email)
    await page.goto(f"/posts/{facebook['id']}")
    await check_page(page, "post-scheduled")

    # A time that has passed: the problem is next to the time, the page still passes.
    await page.fill("#date", "2020-01-01")
    await tab_to(page, "#time")
    await page.keyboard.type("0930")
    await page.keyboard.press("Enter")
    await expect(page.locator("#time-problem")).to_contain_text("That time has passed")
    await expect(page.locator("#time")).to_have_attribute("aria-invalid", "true")
    await check_page(page, "post-reschedule-problem")

    await page.fill("#date", "2031-06-01")
    await page.locator("#time").focus()
    await page.keyboard.type("1015AM")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**?done=rescheduled")
    await expect(page.locator(".facts")).to_contain_text("June 1, 2031")
    stored = await state(admin_engine, facebook["id"])
    assert stored["scheduled_at"] == datetime(2031, 6, 1, 7, 15, tzinfo=UTC)

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await page.fill("#reason", "Closed for the holiday")
    await tab_to(page, "form[action$='/cancel'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**?done=cancelled")
    await expect(page.locator(".post-status")).to_have_text("Cancelled")
    await expect(page.locator(".history")).to_contain_text("Closed for the holiday")
    await check_page(page, "post-cancelled")
    assert (await state(admin_engine, facebook["id"]))["status"] == "cancelled"
