"""/agency/billing over HTTP against the local Stripe: the plan, status and trial banner,
what each plan allows, subscribing with Stripe's test card, the next invoice, changing plan,
cancelling and resuming, the payment method; a declined card subscribes nothing; admins
read without a control that writes, brand people get the 403 page. And the app's 402s: an
owner whose plan lacks API keys sees the upgrade page, changes plan, and the page works."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.access import invite_and_accept
from tests.support.web import hidden_value, sign_in
from tests.support.web_agency import MANAGER, AgencyWorld, agency_world, set_billing

GOOD = "4242424242424242"
DECLINED = "4000000000000341"
ADMIN = "admin@agency.example"


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> AgencyWorld:
    return await agency_world(client, admin_engine, viewer=False)


async def _post(web: httpx.AsyncClient, path: str, **form: str) -> httpx.Response:
    token = hidden_value((await web.get("/agency/billing")).text, "csrf_token")
    return await web.post(path, data={"csrf_token": token, **form})


async def _billing(client: httpx.AsyncClient, world: AgencyWorld) -> dict[str, object]:
    got = await client.get("/v1/billing", headers=world.owner.headers)
    assert got.status_code == 200, got.text
    return dict(got.json())


async def test_a_new_agency_sees_its_trial_and_what_each_plan_allows(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    assert 'href="/agency/billing"' in (await browser_client.get("/")).text
    page = await browser_client.get("/agency/billing")
    assert page.status_code == 200
    for expected in (
        "Your trial of Enterprise ends on",
        "Subscribe below to keep everything working.",
        "Starter",
        "Pro",
        "Up to 25 active locations",
        "Any number of locations",
        "API keys: not included",
        "API keys: included",
        "$19.00 per active location a month",
        "Test card that pays (Visa ending 4242)",
        'action="/agency/billing/subscribe"',
    ):
        assert expected in page.text, expected
    assert "Active locations" in page.text


async def test_the_owner_subscribes_changes_plan_cancels_and_resumes(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    subscribed = await _post(browser_client, "/agency/billing/subscribe", plan="pro", card=GOOD)
    assert subscribed.status_code == 303, subscribed.text
    assert subscribed.headers["location"] == "/agency/billing?done=subscribed"
    page = (await browser_client.get(subscribed.headers["location"])).text
    assert "You are subscribed." in page
    assert "Visa ending 4242" in page
    assert "Next invoice" in page
    assert re.search(r"\$\d+\.\d\d on ", page), page
    assert 'action="/agency/billing/subscribe"' not in page
    invoices = page.split('id="invoices"', 1)[1].split("</table>", 1)[0]
    assert "Paid" in invoices  # the first month, charged at once
    assert re.search(r"\$\d+\.\d\d", invoices), invoices
    shown = await _billing(client, world)
    assert (shown["status"], shown["subscribed"]) == ("active", True)
    assert shown["plan"]["code"] == "pro"  # type: ignore[index]

    changed = await _post(browser_client, "/agency/billing/plan", plan="enterprise")
    assert changed.status_code == 303
    assert "The plan was changed." in (await browser_client.get(changed.headers["location"])).text
    assert (await _billing(client, world))["plan"]["code"] == "enterprise"  # type: ignore[index]

    canceled = await _post(browser_client, "/agency/billing/cancel")
    assert canceled.status_code == 303
    page = (await browser_client.get(canceled.headers["location"])).text
    assert "The subscription ends on" in page
    assert 'action="/agency/billing/resume"' in page
    assert (await _billing(client, world))["cancel_at_period_end"] is True
    resumed = await _post(browser_client, "/agency/billing/resume")
    assert resumed.status_code == 303
    assert (await _billing(client, world))["cancel_at_period_end"] is False

    card = await _post(browser_client, "/agency/billing/payment-method", card=GOOD)
    assert card.status_code == 303
    assert card.headers["location"] == "/agency/billing?done=card"


async def test_a_declined_card_or_no_plan_subscribes_nothing(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    declined = await _post(browser_client, "/agency/billing/subscribe", plan="pro", card=DECLINED)
    assert declined.status_code == 402
    assert 'id="card-problem">The card was declined.' in declined.text
    no_plan = await _post(browser_client, "/agency/billing/subscribe", plan="", card=GOOD)
    assert no_plan.status_code == 422
    assert 'id="plan-problem">Choose a plan.' in no_plan.text
    odd_card = await _post(browser_client, "/agency/billing/subscribe", plan="pro", card="1234")
    assert odd_card.status_code == 422
    assert 'id="card-problem">Choose one of the test cards.' in odd_card.text
    shown = await _billing(client, world)
    assert (shown["status"], shown["subscribed"]) == ("trialing", False)


async def test_an_admin_reads_billing_without_a_control_that_writes(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await invite_and_accept(client, admin_engine, world.owner, ADMIN, "admin")
    await sign_in(browser_client, ADMIN)
    page = await browser_client.get("/agency/billing")
    assert page.status_code == 200
    assert "What each plan allows" in page.text
    assert 'method="post"' not in page.text.split("<main", 1)[1]
    refused = await _post(browser_client, "/agency/billing/subscribe", plan="pro", card=GOOD)
    assert refused.status_code == 403
    assert (await _billing(client, world))["subscribed"] is False


async def test_brand_people_get_no_link_and_the_403_page(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, MANAGER)
    assert "/agency/billing" not in (await browser_client.get("/")).text
    assert (await browser_client.get("/agency/billing")).status_code == 403


async def test_a_plan_without_api_keys_shows_the_upgrade_page_then_changing_plan_works(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await sign_in(browser_client, world.owner.email)
    started = await _post(browser_client, "/agency/billing/subscribe", plan="starter", card=GOOD)
    assert started.status_code == 303, started.text
    token = hidden_value((await browser_client.get("/agency/api-keys")).text, "csrf_token")
    refused = await browser_client.post(
        "/agency/api-keys", data={"csrf_token": token, "name": "CRM", "role": "admin"}
    )
    assert refused.status_code == 402
    assert "Your plan does not include this" in refused.text
    assert "The Starter plan does not include API keys." in refused.text
    assert "It is included from the Pro plan." in refused.text
    assert 'href="/agency/billing#plans"' in refused.text

    changed = await _post(browser_client, "/agency/billing/plan", plan="pro")
    assert changed.status_code == 303
    made = await browser_client.post(
        "/agency/api-keys", data={"csrf_token": token, "name": "CRM", "role": "admin"}
    )
    assert made.status_code == 200
    assert "Your new API key" in made.text


async def test_the_upgrade_page_tells_others_to_ask_the_owner(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
) -> None:
    await invite_and_accept(client, admin_engine, world.owner, ADMIN, "admin")
    await set_billing(admin_engine, world.owner.agency_id, plan="starter", status="trialing")
    await sign_in(browser_client, ADMIN)
    token = hidden_value((await browser_client.get("/agency/api-keys")).text, "csrf_token")
    refused = await browser_client.post(
        "/agency/api-keys", data={"csrf_token": token, "name": "CRM", "role": "admin"}
    )
    assert refused.status_code == 402
    assert "Only the agency's owner can change the plan." in refused.text.replace("&#39;", "'")
    assert "/agency/billing#plans" not in refused.text


async def test_a_read_only_agency_says_so_on_a_change(
    browser_client: httpx.AsyncClient, admin_engine: AsyncEngine, world: AgencyWorld
) -> None:
    await set_billing(admin_engine, world.owner.agency_id, status="canceled", access="read_only")
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/billing")
    assert "The agency can only read for now and publishing is paused." in page.text
    token = hidden_value(page.text, "csrf_token")
    refused = await browser_client.post(
        "/agency/invitations", data={"csrf_token": token, "email": "x@agency.example"}
    )
    assert refused.status_code == 402
    assert "The agency can only read for now" in refused.text
    assert 'href="/agency/billing#plans"' in refused.text
    async with admin_engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM invitation WHERE email LIKE 'x@%'"))
    assert count == 0


async def test_the_billing_and_upgrade_pages_in_greek(
    browser_client: httpx.AsyncClient, admin_engine: AsyncEngine, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/billing", headers={"Accept-Language": "el"})
    assert page.status_code == 200
    assert "<h1>Χρεώσεις</h1>" in page.text
    await set_billing(admin_engine, world.owner.agency_id, plan="starter", status="trialing")
    token = hidden_value(page.text, "csrf_token")
    refused = await browser_client.post(
        "/agency/api-keys",
        data={"csrf_token": token, "name": "CRM", "role": "admin"},
        headers={"Accept-Language": "el"},
    )
    assert refused.status_code == 402
    assert "Το πρόγραμμά σας δεν περιλαμβάνει αυτό" in refused.text


def test_every_feature_of_the_plans_has_a_name_on_the_billing_page() -> None:
    from services.web.routes.agency_billing import FEATURE_NAMES
    from shared.billing.plans import Feature

    assert set(FEATURE_NAMES) == {feature.value for feature in Feature}
