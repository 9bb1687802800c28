"""The campaign progress page's "Remind them" (issue #16): a brand manager mails the people
who have not decided the campaign's waiting posts, sees how many were reminded, and is told
when the next reminder is allowed; a brand viewer is offered no button."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import Page, expect
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, sign_up
from tests.support.campaign_remind import bearer, reminder_mails, waiting_campaign
from tests.support.campaigns import campaign_body, create_campaign, publish_template
from tests.support.web import check_page, hidden_value, sign_in, sign_in_browser
from tests.support.web_brand_campaigns import tab_to

FORM = 'action="/brand/campaigns/{}/remind"'


async def test_remind_them_mails_who_has_not_decided_and_says_how_many(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    done = await client.post(
        f"/v1/posts/{s.posts[s.w.athens['id']]}/approve", headers=bearer(s.athens_manager)
    )
    assert done.status_code == 200, done.text
    await sign_in(browser_client, s.w.manager_email)
    url = f"/brand/campaigns/{s.campaign['id']}"

    page = await browser_client.get(url)
    assert page.status_code == 200
    assert "not available yet" not in page.text
    assert FORM.format(s.campaign["id"]) in page.text
    assert "Remind them" in page.text
    csrf = hidden_value(page.text, "csrf_token")

    # Without the token: the 403 page, nobody mailed.
    forged = await browser_client.post(f"{url}/remind", data={})
    assert forged.status_code == 403
    assert await reminder_mails(admin_engine) == []

    sent = await browser_client.post(f"{url}/remind", data={"csrf_token": csrf})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{url}?done=reminded&people=1"
    shown = await browser_client.get(sent.headers["location"])
    assert '<p class="flash" role="status">1 person was reminded by mail.</p>' in shown.text
    assert [m[0] for m in await reminder_mails(admin_engine)] == [s.berlin_email]

    # Again within the hour: the page says when, next to the button; nothing is sent.
    again = await browser_client.post(f"{url}/remind", data={"csrf_token": csrf})
    assert again.status_code == 429
    assert 'id="remind-problem"' in again.text
    assert re.search(r"The next reminder can be sent at [^<]+ \(UTC\)\.", again.text)
    assert len(await reminder_mails(admin_engine)) == 1


async def test_nothing_waiting_no_button_and_a_refusal(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    await sign_in(browser_client, s.w.manager_email)
    url = f"/brand/campaigns/{s.campaign['id']}"
    csrf = hidden_value((await browser_client.get(url)).text, "csrf_token")
    for loc, manager in ((s.w.athens, s.athens_manager), (s.w.berlin, s.berlin_manager)):
        done = await client.post(f"/v1/posts/{s.posts[loc['id']]}/approve", headers=bearer(manager))
        assert done.status_code == 200, done.text

    page = await browser_client.get(url)
    assert FORM.format(s.campaign["id"]) not in page.text
    refused = await browser_client.post(f"{url}/remind", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "No post waits for a decision any more: there is nobody to remind." in refused.text
    assert await reminder_mails(admin_engine) == []


async def test_a_brand_viewer_sees_no_button_and_another_agency_gets_404(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    other = await sign_up(client)
    their_brand = await create_brand(client, other)
    their_template = await publish_template(client, other, their_brand["id"])
    theirs = await create_campaign(
        client, other.headers, campaign_body(their_brand["id"], their_template)
    )
    await sign_in(browser_client, s.w.viewer_email)
    url = f"/brand/campaigns/{s.campaign['id']}"

    page = await browser_client.get(url)
    assert page.status_code == 200
    assert "Berlin Slice: 1 post waiting" in page.text
    assert "Remind them" not in page.text
    csrf = hidden_value(page.text, "csrf_token")
    refused = await browser_client.post(f"{url}/remind", data={"csrf_token": csrf})
    assert refused.status_code == 403
    foreign = await browser_client.post(
        f"/brand/campaigns/{theirs['id']}/remind", data={"csrf_token": csrf}
    )
    assert foreign.status_code == 404
    assert await reminder_mails(admin_engine) == []


async def test_remind_them_in_greek(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    redis: Redis,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    await sign_in(browser_client, s.w.manager_email)
    greek = {"Accept-Language": "el"}
    url = f"/brand/campaigns/{s.campaign['id']}"
    page = await browser_client.get(url, headers=greek)
    assert "Στείλτε υπενθύμιση" in page.text
    csrf = hidden_value(page.text, "csrf_token")
    sent = await browser_client.post(f"{url}/remind", data={"csrf_token": csrf}, headers=greek)
    shown = await browser_client.get(sent.headers["location"], headers=greek)
    assert "Στάλθηκε υπενθύμιση με email σε 2 άτομα." in shown.text
    again = await browser_client.post(f"{url}/remind", data={"csrf_token": csrf}, headers=greek)
    assert again.status_code == 429
    assert "Η επόμενη υπενθύμιση μπορεί να σταλεί στις" in again.text


async def test_remind_them_with_the_keyboard(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    page: Page,
) -> None:
    s = await waiting_campaign(client, admin_engine, worker_ctx)
    await sign_in_browser(page, s.w.manager_email)
    await page.goto(f"/brand/campaigns/{s.campaign['id']}")
    await expect(page.locator(".campaign-remind button")).to_have_text("Remind them")
    await check_page(page, "brand-campaign-remind")

    await tab_to(page, ".campaign-remind button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**?done=reminded&people=2")
    await expect(page.locator(".flash")).to_have_text("2 people were reminded by mail.")

    await tab_to(page, ".campaign-remind button")
    await page.keyboard.press("Enter")
    await expect(page.locator("#remind-problem")).to_contain_text(
        "The next reminder can be sent at"
    )
    await check_page(page, "brand-campaign-remind-too-soon")
