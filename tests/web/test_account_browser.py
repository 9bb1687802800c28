"""The account pages in Chromium at phone and desktop widths (screenshots, axe-core), and
"where you're signed in" signing out another session."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location, sign_up
from tests.support.access import bearer
from tests.support.mailbox import last_mail_to
from tests.support.web import check_page, sign_in_browser


async def test_the_signed_out_pages(page: Page) -> None:
    for path, name in (
        ("/forgot-password", "forgot-password"),
        ("/reset-password?token=cpr_not.a-real-one", "reset-link-unusable"),
        ("/accept-invitation?token=nothing", "invitation-unusable"),
        ("/no-such-page", "not-found"),
    ):
        await page.goto(path)
        await check_page(page, name)


async def test_the_invitation_page_and_joining_with_the_keyboard(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, page: Page
) -> None:
    owner = await sign_up(client, agency_name="Sunny Side Agency")
    brand = await create_brand(client, owner, "Pizza Palace")
    location = await create_location(client, owner, brand["id"], name="Harbour Street")
    invited = await client.post(
        "/v1/invitations",
        json={
            "email": "new@agency.example",
            "role": "location_manager",
            "location_id": location["id"],
        },
        headers=owner.headers,
    )
    assert invited.status_code == 201
    mail = await last_mail_to(admin_engine, "new@agency.example")
    link = mail[mail.index("/accept-invitation?token=") :].split()[0]
    await page.goto(link)
    await check_page(page, "accept-invitation")
    await page.focus("#full_name")
    await page.keyboard.type("Ada Lovelace")
    await page.keyboard.press("Tab")
    await page.keyboard.type("a freshly chosen passphrase")
    await page.keyboard.press("Tab")
    await page.keyboard.type("a freshly chosen passphrase")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("What needs you now")
    await expect(page.locator("header")).to_contain_text("Harbour Street")


async def test_the_account_pages_and_signing_out_another_session(
    client: httpx.AsyncClient, page: Page
) -> None:
    tenant = await sign_up(client)
    await sign_in_browser(page, tenant.email)
    for path, name in (
        ("/account/password", "account-password"),
        ("/account/language", "account-language"),
        ("/account/sessions", "account-sessions"),
    ):
        await page.goto(path)
        await check_page(page, name)
    # the sign-up's session (API) is listed beside this browser's; sign it out
    cards = page.locator(".card")
    await expect(cards).to_have_count(2)
    await page.locator(".card", has_text="API or app").get_by_role("button").click()
    await expect(page.locator(".card")).to_have_count(1)
    refused = await client.get("/v1/brands", headers=bearer(tenant.access_token))
    assert refused.status_code == 401
    await page.goto("/")  # this browser stays signed in
    await expect(page.get_by_role("heading", level=1)).to_have_text("What needs you now")
