"""The journeys of a brand's head office and an agency's owner (issue #16), each end to end in
the system Chromium through a real server, real workers, the platform sandbox over HTTP, mail
over SMTP and the local Stripe:

- a brand manager imports 2,000 stores from a file with 3 bad lines (sees each with its field
  and reason, fixes the file, imports), writes a template whose X text is too long (sees the
  problem as they type, fixes it, publishes), builds a campaign at 09:00 local time for a group
  with each location confirming, launches it; two locations' managers confirm in their own
  browsers; the worker publishes each post at its time; the campaign's progress page shows them
  published;
- an owner invites a brand viewer, who joins from the mail, signs in and finds no control that
  writes on any of the brand's pages;
- an owner on a plan without automatic review replies meets the app's 402 page, changes plan
  on the billing page, and adding the rule works.

The server is this module's own, so that the links mailed point at it."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, FilePayload, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from shared.config import Settings
from tests.factories import PASSWORD, create_brand, create_group, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.campaigns import campaign_body, create_campaign, publish_template
from tests.support.clock import TestClock
from tests.support.journeys import (
    deliver_mail,
    follow,
    link_in,
    new_context,
    sign_in_with_keyboard,
    tab_to,
)
from tests.support.publish_worker import running_worker, wait_for
from tests.support.publishing import counts, state
from tests.support.social_accounts import connect
from tests.support.web import WebServer, check_page
from tests.support.web_brand_journeys import keep_timings, stores_csv, write_controls
from tests.support.web_reviews import write_reviews, yelp_place

NEW_PASSWORD = "a long passphrase for the viewer"


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


# 1. From a file of 2,000 stores to a campaign published where the locations confirmed -------

GROUPED = {
    1: "S00001,Harbour Street,Athens,GR,Europe/Athens,active,North",
    2: "S00002,Lake Shore,Chicago,US,America/Chicago,active,North",
}
BAD = {
    11: "S00011,Store 00011,Springfield,USA,America/Chicago,active,",  # country: two letters
    1001: "S01001,,Lyon,FR,Europe/Paris,active,",  # no name
    1999: "S01999,Store 01999,Patras,GR,Europe/Athens,open,",  # no such status
}
TOO_LONG_FOR_X = "Pizza week in {{ location.city }}! " + "The best slice in town. " * 13


def stores_file(special: dict[int, str]) -> FilePayload:
    return FilePayload(name="stores.csv", mimeType="text/csv", buffer=stores_csv(2000, special))


async def test_a_brand_manager_imports_writes_and_runs_a_campaign_the_locations_confirm(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    clock: TestClock,
    browser: Browser,
    journey_server: WebServer,
    journey_page: Page,
) -> None:
    page = journey_page
    owner = await sign_up(client, agency_name="Slice Franchising")
    brand = await create_brand(client, owner, "Slice & Co")
    rules = await client.put(
        f"/v1/brands/{brand['id']}/rules",
        json={"allowed_platforms": ["facebook", "x"]},
        headers=owner.headers,
    )
    assert rules.status_code == 200, rules.text
    manager = f"bm-{uuid.uuid4().hex[:8]}@slice.example"
    await invite_and_accept(
        client, admin_engine, owner, manager, "brand_manager", brand_id=brand["id"]
    )
    await sign_in_with_keyboard(page, manager, PASSWORD)
    await page.wait_for_url("**/")
    await expect(page.get_by_role("navigation", name="Brand: Slice & Co")).to_be_visible()

    # The file: 2,000 stores, three of them wrong. Nothing is written before it is right.
    await follow(page, "/brand/locations")
    await follow(page, "/brand/locations/import")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Import")
    started = time.monotonic()
    await page.set_input_files("#file", files=[stores_file({**GROUPED, **BAD})])
    await tab_to(page, "form[action='/brand/locations/import'] button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("3 lines are refused")).to_be_visible(timeout=60_000)
    checked_bad = time.monotonic()
    rows = page.locator("table.imp-problems tbody tr")
    await expect(rows).to_have_count(3)
    for row, (line, field, reason) in zip(
        [rows.nth(0), rows.nth(1), rows.nth(2)],
        [(12, "country", "letter"), (1002, "name", ""), (2000, "status", "")],
        strict=True,
    ):
        cells = row.locator("td")
        await expect(cells.nth(0)).to_have_text(str(line))
        await expect(cells.nth(1)).to_have_text(field)
        await expect(cells.nth(2)).not_to_be_empty()
        if reason:
            await expect(cells.nth(2)).to_contain_text(reason)
    await check_page(page, "journey-brand-import-refused")
    listed = await client.get(
        "/v1/locations", params={"brand_id": brand["id"]}, headers=owner.headers
    )
    assert listed.json()["items"] == []  # nothing written yet

    fixed = {
        11: "S00011,Store 00011,Springfield,US,America/Chicago,active,",
        1001: "S01001,Store 01001,Lyon,FR,Europe/Paris,active,",
        1999: "S01999,Store 01999,Patras,GR,Europe/Athens,active,",
    }
    await page.set_input_files("#file", files=[stores_file({**GROUPED, **fixed})])
    await tab_to(page, "form[action='/brand/locations/import'] button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("2,000 locations will be created")).to_be_visible(timeout=60_000)
    checked_good = time.monotonic()
    await tab_to(page, "form[action='/brand/locations/import/apply'] button")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text(
        "2,000 locations created", timeout=60_000
    )
    imported = time.monotonic()
    keep_timings(
        "journey-brand-import-timings",
        {
            "check_2000_lines_3_refused": checked_bad - started,
            "check_2000_lines_fixed": checked_good - checked_bad,
            "import_2000_lines": imported - checked_good,
        },
    )
    await page.goto("/brand/locations")
    await expect(page.locator(".loc-totals")).to_contain_text("2,000 locations match")

    # The two grouped stores: their Facebook pages, and a manager each.
    stores: dict[str, dict[str, Any]] = {}
    deciders: dict[str, str] = {}
    for city in ("Athens", "Chicago"):
        found = await client.get(
            "/v1/locations",
            params={"brand_id": brand["id"], "city": city},
            headers=owner.headers,
        )
        [stores[city]] = found.json()["items"]
        await connect(client, owner.headers, stores[city]["id"], "facebook")
        deciders[city] = f"lm-{city.lower()}-{uuid.uuid4().hex[:6]}@slice.example"
        await invite_and_accept(
            client, admin_engine, owner, deciders[city], "location_manager",
            location_id=stores[city]["id"],
        )  # fmt: skip

    # A template whose X text is too long: the problem shows as it is typed, then it is fixed.
    await page.goto("/brand/templates")
    await tab_to(page, "#name")
    await page.keyboard.type("Pizza week")
    await tab_to(page, "#body")
    await page.keyboard.type("Pizza week in {{ location.city }}: two for one! #SliceAndCo")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/templates/*")
    template_id = page.url.split("/brand/templates/")[1].split("?")[0]
    await expect(page.locator("#template-editor")).to_have_attribute("data-live", "true")
    x_preview = page.locator(".platform-preview", has=page.locator("h3", has_text="X"))
    await tab_to(page, "details.platform-part summary")
    await page.keyboard.press("Enter")
    await tab_to(page, "#body-x")
    await page.keyboard.type(TOO_LONG_FOR_X)
    too_long = re.compile(r"The text is 3\d\d characters long; X takes 280\.")
    await expect(x_preview.locator(".problem")).to_have_text(too_long)
    await expect(page.locator("#body-x-problem")).to_have_text(too_long)
    await check_page(page, "journey-brand-template-too-long")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("Pizza week in {{ location.city }}: two for one!")
    await expect(x_preview.locator(".preview-text")).to_contain_text("Pizza week in ")
    await expect(page.locator("#body-x-problem")).to_be_hidden()
    await expect(page.locator(".preview-summary")).to_have_text("Ready on every platform.")
    await tab_to(page, "button[value=publish]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**published=1")
    await expect(page.locator(".version-line")).to_contain_text("Published")

    # The campaign: 09:00 on each location's clock, the group North, each location confirms.
    await page.goto("/brand/campaigns")
    await follow(page, "/brand/campaigns/new")
    await tab_to(page, "#name")
    await page.keyboard.type("Pizza week")
    await tab_to(page, "#template")
    await page.select_option("#template", f"{template_id}:1")
    await tab_to(page, "#audience-all")
    await page.keyboard.press("ArrowDown")  # → the groups
    await expect(page.locator("#audience-groups")).to_be_checked()
    await tab_to(page, "input[name=group_ids]")
    await page.keyboard.press("Space")
    await tab_to(page, "#channel-facebook")
    await page.keyboard.press("Space")
    await tab_to(page, "#policy-none")
    await page.keyboard.press("ArrowDown")  # → each location confirms
    await expect(page.locator("#policy-location_confirm")).to_be_checked()
    await tab_to(page, "button[value=check]")
    await page.keyboard.press("Enter")
    await expect(page.locator(".reach")).to_have_text("Reaches 2 active locations now.")
    await expect(page.locator(".spread")).to_contain_text("across 2 time zones")
    await tab_to(page, "button[value=create]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/brand/campaigns/*?done=created")
    campaign_id = page.url.split("/brand/campaigns/")[1].split("?")[0]
    await tab_to(page, "form[action$='/launch'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**?done=launched")

    # The worker writes the posts and mails the deciders.
    mail = await deliver_mail(app, settings)
    for address in deciders.values():
        assert any(address in m.rcpt_tos for m in mail.received), f"no mail to {address}"
    waiting = page.locator(".campaign-waiting")  # the page follows by itself, no reload
    await expect(waiting).to_contain_text("Harbour Street", timeout=20_000)
    await expect(waiting).to_contain_text("Lake Shore")

    # Each location's manager confirms in a browser of their own.
    for city, address in deciders.items():
        context = await new_context(
            browser, journey_server, width=375 if city == "Athens" else 1440
        )
        try:
            theirs = await context.new_page()
            await sign_in_with_keyboard(theirs, address, PASSWORD)
            await theirs.wait_for_url("**/")
            await expect(theirs.locator("main")).to_contain_text("1 post waits for your approval")
            await tab_to(theirs, "main a[href^='/approvals/']")
            await theirs.keyboard.press("Enter")
            await theirs.wait_for_url("**/approvals/*")
            await expect(theirs.get_by_role("heading", level=1)).to_have_text("Pizza week")
            await check_page(theirs, f"journey-brand-location-confirms-{city.lower()}")
            await tab_to(theirs, "button[value=approve]")
            await theirs.keyboard.press("Enter")
            await theirs.wait_for_url("**/approvals?decided=approved")
        finally:
            await context.close()

    # Their times come (Athens first, then Chicago): the worker publishes each post once.
    listed = await client.get(f"/v1/campaigns/{campaign_id}/posts", headers=owner.headers)
    posts = {p["location_id"]: p for p in listed.json()["items"]}
    assert {p["status"] for p in posts.values()} == {"scheduled"}
    async with running_worker(settings):
        for city in ("Athens", "Chicago"):
            post = posts[stores[city]["id"]]
            clock.set(datetime.fromisoformat(post["scheduled_at"]))
            await wait_for(lambda post=post: _published(admin_engine, post["id"]))
    published = await counts(sandbox, "facebook")
    assert [published.get(p["id"]) for p in posts.values()] == [1, 1]  # each out once

    await page.goto(f"/brand/campaigns/{campaign_id}")
    statuses = page.locator(".campaign-statuses")
    await expect(statuses).to_contain_text("2")
    await expect(statuses).to_contain_text("Published")
    grid = page.locator(".campaign-posts tbody tr")
    await expect(grid).to_have_count(2)
    for name in ("Harbour Street", "Lake Shore"):
        await expect(grid.filter(has_text=name)).to_contain_text("Published")
    await expect(page.locator(".campaign-waiting")).to_have_count(0)
    await check_page(page, "journey-brand-campaign-published")


async def _published(engine: AsyncEngine, post_id: str) -> bool:
    return bool((await state(engine, post_id))["status"] == "published")


# 2. A brand viewer, invited by the owner, finds nothing that writes -------------------------

VIEWER = "viewer.of.alpha@agency.example"


async def test_an_invited_brand_viewer_finds_no_control_that_writes_on_the_brand_pages(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    browser: Browser,
    journey_server: WebServer,
    journey_page: Page,
) -> None:
    owner = await sign_up(client, agency_name="Alpha Franchising")
    brand = await create_brand(client, owner, "Alpha Pizza")
    place = await yelp_place(client, admin_engine, owner, brand)
    location = place.location
    [review, _] = await write_reviews(admin_engine, place, 2, rating=2)
    group = await create_group(client, owner, brand["id"], "North")
    added = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [location["id"]]},
        headers=owner.headers,
    )
    assert added.status_code == 200, added.text
    rules = await client.put(
        f"/v1/brands/{brand['id']}/rules",
        json={"banned_words": ["cheap"], "allowed_platforms": ["facebook", "x"]},
        headers=owner.headers,
    )
    assert rules.status_code == 200, rules.text
    template_id = await publish_template(client, owner, brand["id"])
    campaign = await create_campaign(
        client, owner.headers, campaign_body(brand["id"], template_id, name="Summer slices")
    )
    pages = [
        "/",
        "/brand/locations",
        f"/brand/locations/{location['id']}",
        "/brand/groups",
        f"/brand/groups/{group['id']}",
        "/brand/templates",
        f"/brand/templates/{template_id}",
        "/brand/rules",
        "/brand/campaigns",
        f"/brand/campaigns/{campaign['id']}",
        "/brand/calendar",
        "/brand/reviews",
        f"/brand/reviews/{review['id']}",
        "/brand/reviews/rules",
        "/brand/analytics",
    ]

    # The owner: the same pages offer them what changes things (the check below can fail).
    page = journey_page
    await sign_in_with_keyboard(page, owner.email, PASSWORD)
    await page.wait_for_url("**/")
    for path in ("/brand/templates", f"/brand/campaigns/{campaign['id']}", "/brand/rules"):
        await page.goto(path)
        assert await write_controls(page), f"the owner has nothing to change on {path}"

    # The invitation, from the members page with the keyboard.
    await follow(page, "/agency/members")
    await tab_to(page, "#email")
    await page.keyboard.type(VIEWER)
    await tab_to(page, "#role")
    await page.select_option("#role", "brand_viewer")
    await tab_to(page, "#brand_id")
    await page.select_option("#brand_id", label="Alpha Pizza")
    await tab_to(page, "form[action='/agency/invitations'] button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/members?done=invited")
    await expect(page.locator("main")).to_contain_text(VIEWER)

    # The mail, delivered over SMTP; its link on the viewer's own device.
    link = link_in(await deliver_mail(app, settings), VIEWER, "/accept-invitation")
    context = await new_context(browser, journey_server)
    try:
        viewer = await context.new_page()
        await viewer.goto(link)
        await expect(viewer.locator("main")).to_contain_text("Alpha Pizza")
        await tab_to(viewer, "#full_name")
        await viewer.keyboard.type("Βιβή Θεατή")
        await viewer.keyboard.press("Tab")
        await viewer.keyboard.type(NEW_PASSWORD)
        await viewer.keyboard.press("Tab")
        await viewer.keyboard.type(NEW_PASSWORD)
        await viewer.keyboard.press("Enter")
        await viewer.wait_for_url("**/")
        await context.clear_cookies()  # signs in again, as on another day
        await sign_in_with_keyboard(viewer, VIEWER, NEW_PASSWORD)
        await viewer.wait_for_url("**/")
        await expect(viewer.get_by_role("navigation", name="Brand: Alpha Pizza")).to_be_visible()
        await expect(viewer.get_by_role("navigation", name="Agency")).to_have_count(0)

        # Every brand page reads, and nothing on it writes (the header's forms aside).
        seen = []
        for path in pages:
            answer = await viewer.goto(path)
            assert answer is not None
            assert answer.status == 200, f"{path} answered {answer.status}"
            assert await write_controls(viewer) == [], path
            seen.append(path)
        await check_page(viewer, "journey-brand-viewer-analytics")
        assert len(seen) == len(pages)

        # Head office's approval queue is for those who approve: not offered, and refused.
        await expect(viewer.locator("header a[href='/brand/approvals']")).to_have_count(0)
        refused = await viewer.goto("/brand/approvals")
        assert refused is not None
        assert refused.status == 403
        assert await write_controls(viewer) == []
    finally:
        await context.close()


# 3. A plan without automatic replies: the 402 page, a plan change, and it works --------------


async def test_an_owner_meets_the_upgrade_page_changes_plan_and_adds_the_auto_reply_rule(
    client: httpx.AsyncClient, journey_page: Page
) -> None:
    owner = await sign_up(client, agency_name="Gamma Franchising")
    brand = await create_brand(client, owner, "Gamma Gyros")
    await create_location(client, owner, brand["id"], name="Gamma Patras")
    page = journey_page
    await sign_in_with_keyboard(page, owner.email, PASSWORD)
    await page.wait_for_url("**/")

    # On Starter, paid with Stripe's test card (the local Stripe).
    await follow(page, "/agency/billing")
    await tab_to(page, "#plan")
    await page.select_option("#plan", "starter")
    await tab_to(page, "form[action='/agency/billing/subscribe'] button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/billing?done=subscribed", timeout=30_000)
    await expect(page.locator("main")).to_contain_text("Starter")

    async def add_rule() -> None:
        await page.goto("/brand/reviews/rules")
        await tab_to(page, "#name")
        await page.keyboard.type("Thank the happy ones")
        await tab_to(page, "#template")
        await page.keyboard.type("Thank you, {{ reviewer.first_name }}!")
        await tab_to(page, "form[action='/brand/reviews/rules'] button[type=submit]")
        await page.keyboard.press("Enter")

    # Starter has no automatic replies: the app's 402 is a page saying so, and the way up.
    await add_rule()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your plan does not include this"
    )
    await expect(page.locator("main")).to_contain_text("The Starter plan does not include")
    await expect(page.locator("main")).to_contain_text("It is included from the Pro plan.")
    await check_page(page, "journey-brand-upgrade")
    await follow(page, "/agency/billing#plans")
    change = page.get_by_role("button", name="Change to Pro")
    await tab_to(page, "form[action='/agency/billing/plan']:has(input[value=pro]) button")
    await expect(change).to_be_focused()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/agency/billing?done=plan", timeout=30_000)
    await expect(page.get_by_role("status")).to_contain_text("The plan was changed.")

    # The same form now adds the rule; no upgrade page is left on the way.
    await add_rule()
    await page.wait_for_url("**/brand/reviews/rules")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Auto-reply rules")
    await expect(page.locator("main .card")).to_contain_text("Thank the happy ones")
    rules = await client.get(f"/v1/brands/{brand['id']}/auto-reply-rules", headers=owner.headers)
    assert [r["name"] for r in rules.json()] == ["Thank the happy ones"]
