"""The team page in Chromium: a location manager invites a staff member with the keyboard
alone and removes another after the confirmation page; staff find no link to it and get the
403 page. Each page at 375 and 1440 px with axe-core."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.mailbox import last_mail_to
from tests.support.web import check_page, sign_in_browser

MANAGER = "manager@franchise.example"
STAFF = "staff@franchise.example"


async def test_a_manager_invites_and_removes_staff_with_the_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Pizza Athens")
    for email, role in ((MANAGER, "location_manager"), (STAFF, "location_staff")):
        await invite_and_accept(
            client, admin_engine, owner, email, role, location_id=location["id"]
        )
    await sign_in_browser(page, MANAGER)
    await page.get_by_role("link", name="Team").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Team at Pizza Athens")
    await check_page(page, "team")

    await page.locator("#email").focus()
    await page.keyboard.type("not an address")
    await page.keyboard.press("Enter")
    await expect(page.locator("#email-problem")).to_have_text(
        "Enter an email address like name@example.com."
    )
    await check_page(page, "team-problem")
    await page.locator("#email").fill("")
    await page.keyboard.type("new.hire@franchise.example")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/team?done=invited")
    await expect(page.get_by_role("status")).to_contain_text("The invitation is on its way.")
    await expect(page.locator(".team-people")).to_contain_text("new.hire@franchise.example")
    assert "/accept-invitation?token=" in await last_mail_to(
        admin_engine, "new.hire@franchise.example"
    )

    await page.get_by_role("link", name="Remove staff").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Remove staff from the team?")
    await check_page(page, "team-remove")
    await page.get_by_role("button", name="Remove staff").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/team?done=removed")
    await expect(page.locator(".team-people")).not_to_contain_text(STAFF)


async def test_staff_have_no_team_link_and_get_the_403_page(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    await invite_and_accept(
        client, admin_engine, owner, STAFF, "location_staff", location_id=location["id"]
    )
    await sign_in_browser(page, STAFF)
    await expect(page.get_by_role("link", name="Team")).to_have_count(0)
    answer = await page.goto("/team")
    assert answer is not None
    assert answer.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("You may not do this")
