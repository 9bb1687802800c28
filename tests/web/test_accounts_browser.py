"""Connecting Facebook in Chromium, end to end: the accounts page, the connect button (with
the keyboard), the sandbox's consent page, the API's callback URL handing over to the web
app's, the page that asks which Facebook page, back on the accounts page connected; then
disconnecting after the confirmation page. Each page at 375 and 1440 px with axe-core.

The server here is one of this module's own: the platform sends the browser back to
``public_base_url``, which must be this server's address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from shared.config import Settings
from tests.factories import create_brand, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.web import WebServer, check_page, sign_in_browser

MANAGER = "manager@franchise.example"


@pytest.fixture(scope="module")
def accounts_server(settings: Settings) -> Iterator[WebServer]:
    server = WebServer(create_app(settings))
    server.app.state.settings = settings.model_copy(update={"public_base_url": server.url})
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def accounts_page(browser: Browser, accounts_server: WebServer) -> AsyncIterator[Page]:
    context = await browser.new_context(
        base_url=accounts_server.url, viewport={"width": 1440, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(10_000)
    yield await context.new_page()
    await context.close()


async def test_connecting_facebook_choosing_a_page_then_disconnecting(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    accounts_page: Page,
) -> None:
    page = accounts_page
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Pizza Athens")
    await invite_and_accept(
        client, admin_engine, owner, MANAGER, "location_manager", location_id=location["id"]
    )
    await sign_in_browser(page, MANAGER)
    await page.goto("/accounts")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Social accounts")
    await check_page(page, "accounts")

    connect = page.get_by_role("button", name="Connect Facebook")
    await connect.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/accounts/choose")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Which Facebook page is Pizza Athens's?"
    )
    await check_page(page, "accounts-choose")
    radios = page.get_by_role("radio")
    assert await radios.count() >= 2
    second = await radios.nth(1).get_attribute("value")
    second_name = await page.locator("label[for='choice-2']").inner_text()
    await radios.nth(0).focus()
    await page.keyboard.press("ArrowDown")  # the second page
    await expect(radios.nth(1)).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Connect this one")).to_be_focused()
    await page.keyboard.press("Enter")

    await page.wait_for_url("**/accounts?connected=facebook")
    await expect(page.get_by_role("status")).to_have_text("Facebook is connected.")
    card = page.locator("li.acct-card", has=page.get_by_role("heading", name="Facebook"))
    await expect(card.locator(".acct-state")).to_have_text("Connected")
    await expect(card.locator(".acct-name")).to_contain_text(second_name.split(" @")[0])
    await check_page(page, "accounts-connected")
    listed = await client.get(
        f"/v1/locations/{location['id']}/social-accounts", headers=owner.headers
    )
    assert [(a["platform"], a["external_id"], a["status"]) for a in listed.json()] == [
        ("facebook", second, "connected")
    ]

    await card.get_by_role("link", name="Disconnect Facebook").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Disconnect Facebook?")
    await check_page(page, "accounts-disconnect")
    await page.get_by_role("button", name="Disconnect").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/accounts?disconnected=facebook")
    await expect(card.locator(".acct-state")).to_have_text("Not connected")
    listed = await client.get(
        f"/v1/locations/{location['id']}/social-accounts", headers=owner.headers
    )
    assert listed.json()[0]["status"] == "revoked"


async def test_a_spent_or_unknown_connection_gets_a_page(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, accounts_page: Page
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    await invite_and_accept(
        client, admin_engine, owner, MANAGER, "location_manager", location_id=location["id"]
    )
    await sign_in_browser(accounts_page, MANAGER)
    answer = await accounts_page.goto("/accounts/callback?state=spent.state&code=abc")
    assert answer is not None
    assert answer.status == 400
    await expect(accounts_page.get_by_role("alert")).to_contain_text(
        "This connection has expired or was already finished."
    )
    await check_page(accounts_page, "accounts-problem")
