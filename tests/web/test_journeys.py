"""The journeys of a franchise location's people (issue #15), each end to end in the system
Chromium through a real server, real workers, the platform sandbox over HTTP and mail
delivered over SMTP:

- invited by mail → joins → connects Facebook choosing a page → signs out; a brand manager's
  campaign asks for confirmation → signs in again, edits a slot, sees the preview, approves →
  the post is on the calendar → the worker publishes it once → its page shows it published
  with its link (all of it with the keyboard alone: Tab, Enter, Space, arrows and typing);
- a post the platform refused is retried from its page after reconnecting, and goes out once;
- a review collected from the sandbox is answered from the reviews page; the reply reaches the
  platform once;
- forgot password → mail → reset → the old browser session is over, the new password works.

The server is this module's own: the OAuth consent sends the browser back to
``public_base_url``, which must be its address."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from arq.connections import RedisSettings, create_pool
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from shared.config import Settings
from shared.db import Database
from tests.factories import PASSWORD, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.campaigns import campaign_body, create_campaign, publish_template
from tests.support.clock import TestClock
from tests.support.journeys import mailed_link, new_context, sign_in_with_keyboard, tab_to
from tests.support.publish_worker import running_worker, wait_for
from tests.support.publishing import counts, state
from tests.support.review_collection import sandbox_id
from tests.support.reviews import open_shop
from tests.support.reviews import run_worker as run_review_worker
from tests.support.smtp_server import run_worker
from tests.support.social_accounts import connect
from tests.support.web import WebServer, check_page, sign_in_browser
from tests.support.web_approvals import publish

ZONE = "Europe/Athens"
NEW_PASSWORD = "a brand new passphrase for the shop"


@pytest.fixture(scope="module")
def journey_server(settings: Settings) -> Iterator[WebServer]:
    server = WebServer(create_app(settings))
    server.app.state.settings = settings.model_copy(update={"public_base_url": server.url})
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def journey_page(browser: Browser, journey_server: WebServer) -> AsyncIterator[Page]:
    context = await new_context(browser, journey_server)
    yield await context.new_page()
    await context.close()


# a. Invited, connected, asked, approved, published --------------------------------------


async def test_from_the_invitation_mail_to_a_published_campaign_post_with_the_keyboard(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    clock: TestClock,
    journey_page: Page,
) -> None:
    page = journey_page
    owner = await sign_up(client, agency_name="Sunny Side Agency")
    brand = await create_brand(client, owner, "Slice & Co")
    location = await create_location(
        client, owner, brand["id"], name="Harbour Street", city="Athens", time_zone=ZONE
    )
    suffix = uuid.uuid4().hex[:8]
    brand_manager = await invite_and_accept(
        client, admin_engine, owner, f"bm-{suffix}@agency.example", "brand_manager",
        brand_id=brand["id"],
    )  # fmt: skip
    template_id = await publish(client, owner, brand["id"], "Daily offer")

    # The invitation mail, delivered by the worker; its link opens the joining page.
    franchisee = f"franchisee-{suffix}@harbour.example"
    invited = await client.post(
        "/v1/invitations",
        json={"email": franchisee, "role": "location_manager", "location_id": location["id"]},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    invitation = await mailed_link(app, settings, franchisee, "/accept-invitation")
    await page.goto(invitation)
    await expect(page.locator("main")).to_contain_text("Harbour Street")
    await check_page(page, "journey-invitation")
    await tab_to(page, "#full_name")
    await page.keyboard.type("Ελένη Παπαδοπούλου")
    await page.keyboard.press("Tab")
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press("Tab")
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("What needs you now")
    await check_page(page, "journey-home-new")
    joined_again = await page.context.new_page()  # the mail's link, opened once more
    await joined_again.goto(invitation)
    await expect(joined_again.get_by_role("heading", level=1)).to_have_text(
        "This invitation cannot be used"
    )
    await joined_again.close()

    # Connect Facebook through the sandbox's consent, choosing the second page.
    await tab_to(page, "nav a[href='/accounts']")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Social accounts")
    await tab_to(page, "form[action='/accounts/facebook/connect'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/accounts/choose")
    radios = page.get_by_role("radio")
    chosen = await radios.nth(1).get_attribute("value")
    await tab_to(page, "input[type=radio]")
    await page.keyboard.press("ArrowDown")
    await expect(radios.nth(1)).to_be_checked()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/accounts?connected=facebook")
    await expect(page.get_by_role("status")).to_have_text("Facebook is connected.")

    # Sign out from the header's menu (Space opens it).
    await tab_to(page, "header summary")
    await page.keyboard.press("Space")
    await tab_to(page, "form[action='/logout'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/login**")

    # The brand manager's campaign asks the location to confirm; the worker fans it out.
    at = (clock.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    campaign = await create_campaign(
        client,
        bearer(brand_manager["access_token"]),
        campaign_body(
            brand["id"], template_id, name="Summer slices", approval_policy="location_confirm",
            variables={"tag": "SliceWeek"}, channels=["facebook"],
            audience={"kind": "locations", "location_ids": [location["id"]]},
            schedule={"kind": "absolute", "at": at.isoformat()},
        ),
    )  # fmt: skip
    launched = await client.post(
        f"/v1/campaigns/{campaign['id']}/launch", headers=bearer(brand_manager["access_token"])
    )
    assert launched.status_code == 202, launched.text
    await run_worker(app, settings)
    listed = await client.get(f"/v1/campaigns/{campaign['id']}/posts", headers=owner.headers)
    [post] = listed.json()["items"]
    assert post["status"] == "needs_approval"

    # Back in, with the keyboard: home says what waits; open it, fill the slot, approve.
    await sign_in_with_keyboard(page, franchisee, NEW_PASSWORD)
    await expect(page.get_by_role("heading", level=1)).to_have_text("What needs you now")
    await expect(page.locator("main")).to_contain_text("1 post waits for your approval")
    await check_page(page, "journey-home-asked")
    await tab_to(page, f"a[href='/approvals/{post['id']}']")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Summer slices")
    await tab_to(page, "#slot-offer")
    await page.keyboard.type("Δύο σε μία 🍕")
    expected = "Pizza in Athens: Δύο σε μία 🍕 (large)  #SliceWeek"
    await expect(page.locator(".platform-preview .preview-text")).to_have_text(expected)
    await check_page(page, "journey-approval")
    await tab_to(page, "button[value=approve]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/approvals?decided=approved")
    await expect(page.locator(".flash")).to_have_text("Confirmed: the posts are scheduled.")

    # On the calendar (the month of its time, where the location is).
    local_day = at.astimezone(ZoneInfo(ZONE)).date()
    await page.goto(f"/calendar?view=month&date={local_day.isoformat()}")
    entry = page.locator(f"a[href='/posts/{post['id']}']")
    await expect(entry).to_contain_text("Facebook")
    await expect(entry).to_contain_text("Scheduled")
    await check_page(page, "journey-calendar")

    # Its time comes: the worker publishes it, once.
    clock.set(at)
    async with running_worker(settings):
        await wait_for(lambda: _published(admin_engine, post["id"]))
    assert (await counts(sandbox, "facebook")).get(post["id"]) == 1  # out once
    at_platform = (await sandbox.get("/_sandbox/posts/facebook")).json()["data"]
    [sent] = [p for p in at_platform if p["client_ref"] == post["id"]]
    assert (sent["account_id"], sent["text"]) == (chosen, expected)  # on the page chosen

    await page.reload()
    await tab_to(page, f"a[href='/posts/{post['id']}']")
    await page.keyboard.press("Enter")
    await expect(page.locator(".post-status")).to_have_text("Published")
    link = page.get_by_role("link", name="See it on Facebook")
    assert await link.get_attribute("href") == (await state(admin_engine, post["id"]))["permalink"]
    await check_page(page, "journey-published")


async def _published(engine: AsyncEngine, post_id: str) -> bool:
    return bool((await state(engine, post_id))["status"] == "published")


# b. A failed post retried from its page ------------------------------------------------


async def test_a_post_the_platform_refused_is_retried_from_its_page_and_goes_out_once(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    journey_page: Page,
) -> None:
    page = journey_page
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], city="Athens", time_zone=ZONE)
    manager = f"lm-{uuid.uuid4().hex[:8]}@athens.example"
    await invite_and_accept(
        client, admin_engine, owner, manager, "location_manager", location_id=location["id"]
    )
    template_id = await publish_template(
        client, owner, brand["id"], "Fresh pizza in {{ location.city }}! {{ slot.offer }}",
        {"offer": {"label": "Offer", "max_length": 40}},
    )  # fmt: skip
    await connect(client, owner.headers, location["id"], "facebook")
    await sandbox.put("/_sandbox/faults/facebook", json={"error_rates": {"auth_revoked": 1.0}})
    made = await client.post(
        f"/v1/locations/{location['id']}/posts",
        json={
            "template_id": template_id, "version": 1, "platforms": ["facebook"],
            "slot_values": {"offer": "Refused at first"},
        },
        headers=owner.headers,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    [post] = made.json()

    async with running_worker(settings):
        await wait_for(lambda: _status_is(admin_engine, post["id"], "failed"))
        await sandbox.put("/_sandbox/faults/facebook", json={})

        await sign_in_browser(page, manager)
        await expect(page.locator("main")).to_contain_text("1 post failed")
        await page.locator(f"a[href='/posts/{post['id']}']").first.click()
        await expect(page.locator(".post-status")).to_have_text("Failed")
        await expect(page.locator(".facts")).to_contain_text("Reconnect")  # why, and what to do
        await check_page(page, "journey-failed")

        # The platform stopped accepting the login: reconnect, then retry from the post.
        await page.goto("/accounts")
        await page.get_by_role("button", name="Reconnect Facebook").click()
        await page.wait_for_url("**/accounts/choose")
        await page.get_by_role("radio").first.check()  # the page it was connected to
        await page.get_by_role("button", name="Connect this one").click()
        await page.wait_for_url("**/accounts?connected=facebook")
        await page.goto(f"/posts/{post['id']}")
        other_tab = await page.context.new_page()  # the same post, open in a second tab
        await other_tab.goto(f"/posts/{post['id']}")
        await page.locator("form[action$='/retry'] button").click()
        await page.wait_for_url("**?done=retried")
        # The second tab's retry comes too late: it says so and changes nothing.
        await other_tab.locator("form[action$='/retry'] button").click()
        await expect(other_tab.locator("main")).to_contain_text(
            re.compile(
                "Only a post that failed can be tried again|is sending this post|already gone out"
            )
        )

        try:
            await wait_for(lambda: _status_is(admin_engine, post["id"], "published"), 60)
        except AssertionError:
            # Once seen under a full suite's load (not alone): say where the post stopped.
            raise AssertionError(await _where_it_stopped(admin_engine, post["id"])) from None
    await page.goto(f"/posts/{post['id']}")
    await expect(page.locator(".post-status")).to_have_text("Published")
    await expect(page.get_by_role("link", name="See it on Facebook")).to_be_visible()
    assert (await counts(sandbox, "facebook")).get(post["id"]) == 1  # out once, not twice


async def _where_it_stopped(engine: AsyncEngine, post_id: str) -> str:
    async with engine.connect() as conn:
        post = (
            await conn.execute(
                text(
                    "SELECT status, status_reason, due_at, lease_token, attempts, last_error, "
                    "now() FROM post WHERE id = :p"
                ),
                {"p": post_id},
            )
        ).one()
        history = (
            await conn.execute(
                text(
                    "SELECT changed_at, from_status, to_status, reason FROM post_status_change "
                    "WHERE post_id = :p ORDER BY changed_at"
                ),
                {"p": post_id},
            )
        ).all()
    return f"not published: {tuple(post)}; history: {[tuple(h) for h in history]}"


async def _status_is(engine: AsyncEngine, post_id: str, status: str) -> bool:
    return bool((await state(engine, post_id))["status"] == status)


# c. A review answered ------------------------------------------------------------------


async def test_a_collected_review_is_answered_and_the_reply_reaches_the_platform_once(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    journey_page: Page,
) -> None:
    page = journey_page
    shop = await open_shop(client, app_db, redis, settings)
    manager = f"lm-{uuid.uuid4().hex[:8]}@street.example"
    await invite_and_accept(
        client, admin_engine, shop.owner, manager, "location_manager",
        location_id=shop.location["id"],
    )  # fmt: skip
    platform_place = f"/_sandbox/reviews/google_business/{sandbox_id(shop.account)}"
    added = await sandbox.post(
        platform_place, json={"rating": 2, "text": "Πολύ αργή παράδοση 🐢", "author": "Νίκος"}
    )
    assert added.status_code == 201, added.text
    assert (await shop.collect()).outcome == "collected"

    await sign_in_browser(page, manager)
    await page.get_by_role("link", name="Answer reviews").click()
    await page.get_by_role("link", name="Answer the review by Νίκος").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Review by Νίκος")
    reply = "Λυπούμαστε, Νίκο! Next time it is on us."
    await page.fill("#text", reply)
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.locator(".reply-status")).to_contain_text("Reply on its way")

    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await run_review_worker(pool, settings)
    finally:
        await pool.aclose()
    await page.reload()
    await expect(page.locator(".reply-status")).to_contain_text("Reply sent")
    await check_page(page, "journey-review-answered")
    at_platform = (await sandbox.get(platform_place)).json()["data"]
    [answered] = [r for r in at_platform if r["id"] == added.json()["id"]]
    assert (answered["reply_text"], answered["reply_writes"]) == (reply, 1)
    assert [r["id"] for r in at_platform if r["reply_text"]] == [answered["id"]]


# d. Forgot password ----------------------------------------------------------------------


async def test_a_password_reset_ends_the_old_session_and_the_new_password_works(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    browser: Browser,
    journey_server: WebServer,
    journey_page: Page,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Harbour Street")
    manager = f"lm-{uuid.uuid4().hex[:8]}@harbour.example"
    await invite_and_accept(
        client, admin_engine, owner, manager, "location_manager", location_id=location["id"]
    )
    old = journey_page  # signed in at the shop's desk
    await sign_in_browser(old, manager)
    await old.goto("/calendar")

    phone = await new_context(browser, journey_server, width=375)
    try:
        page = await phone.new_page()
        await page.goto("/login")
        await page.get_by_role("link", name="Forgot your password?").click()
        await page.fill("#email", manager)
        await page.get_by_role("button", name="Send me a link").click()
        await expect(page.locator("main")).to_contain_text("Check your mail")
        link = await mailed_link(app, settings, manager, "/reset-password")
        await page.goto(link)
        await check_page(page, "journey-reset")
        await page.fill("#new_password", NEW_PASSWORD)
        await page.fill("#new_password_again", NEW_PASSWORD)
        await page.get_by_role("button", name="Set the new password").click()
        await expect(page.locator("main")).to_contain_text("signed out everywhere")
        await page.goto(link)  # the mail's link is spent
        await expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
    finally:
        await phone.close()

    # The desk's session ended with the reset: its next page is the sign-in.
    await old.get_by_role("link", name="Approvals").click()
    await old.wait_for_url("**/login**")
    await expect(old.get_by_role("heading", level=1)).to_have_text("Sign in to Chorus")
    await sign_in_with_keyboard(old, manager, PASSWORD)
    await expect(old.locator("main")).to_contain_text("The email address or the password is wrong.")
    await sign_in_with_keyboard(old, manager, NEW_PASSWORD)
    await expect(old.get_by_role("heading", level=1)).to_have_text("What needs you now")
    assert (await client.post(
        "/v1/auth/login", json={"email": manager, "password": PASSWORD}
    )).status_code == 401  # fmt: skip
