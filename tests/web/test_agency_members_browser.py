"""The agency members page in Chromium: an owner invites a brand viewer with the keyboard
alone (a wrong form first: the problem next to its field); the brand viewer accepts, signs
in and finds no agency screen that writes: the 403 page for members, API keys, audit and
billing, and their brand's account health read only. Each page at 375 and 1440 px with
axe-core."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD
from tests.support.mailbox import invitation_token
from tests.support.web import check_page, sign_in_browser
from tests.support.web_agency import MANAGER, agency_world

NEW_VIEWER = "new.viewer@agency.example"


async def test_an_owner_invites_a_brand_viewer_who_sees_no_write_control(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    world = await agency_world(client, admin_engine, viewer=False)
    await sign_in_browser(page, world.owner.email)
    await page.get_by_role("link", name="Members").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Members and invitations")
    await expect(page.locator(".agency-members")).to_contain_text(MANAGER)
    await check_page(page, "agency-members")

    await page.locator("#email").focus()
    await page.keyboard.type(NEW_VIEWER)
    await page.keyboard.press("Enter")  # sent without a role
    await expect(page.locator("#role-problem")).to_have_text("Choose the role they get.")
    await expect(page.locator("#email")).to_have_value(NEW_VIEWER)
    await check_page(page, "agency-members-problem")

    await page.locator("#role").focus()
    await page.locator("#role").select_option("brand_viewer")
    await page.keyboard.press("Tab")
    await expect(page.locator("#brand_id")).to_be_focused()
    await page.locator("#brand_id").select_option(label="Alpha Pizza")
    await page.locator("#email").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/members?done=invited")
    await expect(page.get_by_role("status")).to_contain_text("The invitation is on its way.")
    await expect(page.locator("main")).to_contain_text(NEW_VIEWER)

    token = await invitation_token(admin_engine, NEW_VIEWER)
    accepted = await client.post(
        "/v1/invitations/accept",
        json={"token": token, "password": PASSWORD, "full_name": "New Viewer"},
    )
    assert accepted.status_code == 200, accepted.text
    await page.context.clear_cookies()
    await sign_in_browser(page, NEW_VIEWER)
    await expect(page.get_by_role("navigation", name="Agency")).to_have_count(0)
    answer = await page.goto("/agency/members")
    assert answer is not None
    assert answer.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("You may not do this")
    await expect(page.locator("main form")).to_have_count(0)
    for path in ("/agency/api-keys", "/agency/audit", "/agency/billing"):
        refused = await page.goto(path)
        assert refused is not None
        assert refused.status == 403, path
        await expect(page.locator("main form")).to_have_count(0)
    health = await page.goto("/agency/accounts")  # their brand's accounts: read only
    assert health is not None
    assert health.status == 200
    await expect(page.get_by_role("heading", level=1)).to_have_text("Social account health")
    await expect(page.locator("main form[method='post']")).to_have_count(0)
    await expect(page.locator("main button:not([type='submit'])")).to_have_count(0)
    await check_page(page, "agency-accounts-brand-viewer")
