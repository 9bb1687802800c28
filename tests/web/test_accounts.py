"""The social accounts page over HTTP (the browser's own run is in test_accounts_browser.py):
each platform the brand allows with the location's account and its health; connecting
through the sandbox's consent page (the same OAuth flow as the API, bound to the browser
session that started it), choosing the page, the problems a person can meet on the way,
disconnecting; what a location's staff may not do, and other locations' accounts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.config import Settings
from shared.crypto import Sealed, keyring_from_settings
from shared.ids import new_id
from shared.social_accounts import sealing
from shared.social_accounts.models import SocialAccount
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.web import StatementCounter, hidden_value, sign_in

MANAGER = "manager@franchise.example"
STAFF = "staff@franchise.example"


@dataclass
class Shop:
    owner: Tenant
    brand: dict[str, Any]
    location: dict[str, Any]
    other_location: dict[str, Any]
    manager: dict[str, Any]


@pytest.fixture
async def shop(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> Shop:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Pizza Athens")
    other = await create_location(client, owner, brand["id"], name="Pizza Patras")
    manager = await invite_and_accept(
        client, admin_engine, owner, MANAGER, "location_manager", location_id=location["id"]
    )
    return Shop(owner, brand, location, other, manager)


async def _csrf(web: httpx.AsyncClient, path: str = "/accounts") -> str:
    page = await web.get(path)
    assert page.status_code == 200, page.text
    return hidden_value(page.text, "csrf_token")


async def _consent(web: httpx.AsyncClient, authorize_url: str, **params: str) -> httpx.Response:
    """The browser at the sandbox's consent page, then back at Chorus's callback URL (the
    API's, registered with the platforms): the answer of that URL."""
    async with httpx.AsyncClient(timeout=30) as outside:
        consent = await outside.get(httpx.URL(authorize_url).copy_merge_params(params))
    assert consent.status_code in (302, 303), consent.text
    back = urlsplit(consent.headers["location"])
    assert back.path == "/v1/social-accounts/oauth/callback"
    return await web.get(f"{back.path}?{back.query}")


async def _start(web: httpx.AsyncClient, platform: str = "facebook") -> httpx.Response:
    token = await _csrf(web)
    return await web.post(f"/accounts/{platform}/connect", data={"csrf_token": token})


async def _to_choice(web: httpx.AsyncClient, **consent: str) -> httpx.Response:
    """Connect Facebook up to the page that asks which page: that page."""
    started = await _start(web)
    assert started.status_code == 303, started.text
    handed = await _consent(web, started.headers["location"], **consent)
    assert handed.status_code == 303, handed.text
    assert handed.headers["location"].startswith("/accounts/callback?")
    finished = await web.get(handed.headers["location"])
    assert finished.status_code == 303, finished.text
    assert finished.headers["location"] == "/accounts/choose"
    choose = await web.get("/accounts/choose")
    assert choose.status_code == 200, choose.text
    return choose


def _choice_ids(html: str) -> list[str]:
    return re.findall(r'name="external_id" value="([^"]+)"', html)


async def _api_accounts(
    client: httpx.AsyncClient, shop: Shop, location_id: str | None = None
) -> list[dict[str, Any]]:
    listed = await client.get(
        f"/v1/locations/{location_id or shop.location['id']}/social-accounts",
        headers=shop.owner.headers,
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json())


async def _insert_account(
    engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
    location_id: str,
    platform: str,
    external_id: str,
    **fields: Any,
) -> uuid.UUID:
    account_id = new_id()
    account = SocialAccount(
        id=account_id,
        agency_id=shop.owner.agency_id,
        brand_id=uuid.UUID(shop.brand["id"]),
        location_id=uuid.UUID(location_id),
        platform=platform,
        external_id=external_id,
        name=fields.pop("name", f"Page {external_id}"),
        kind="page",
        status=fields.pop("status", "connected"),
        connected_at=datetime.now(UTC),
        **{k: v for k, v in fields.items() if k not in ("refresh", "expires_at")},
    )
    sealing.store_tokens(
        account,
        keyring_from_settings(settings),
        access_token=Sealed("EAAinserted"),
        refresh_token=Sealed("refresh") if fields.get("refresh") else None,
        expires_at=fields.get("expires_at"),
        refresh_expires_at=None,
    )
    async with AsyncSession(engine) as session, session.begin():
        session.add(account)
    return account_id


async def test_a_manager_connects_facebook_choosing_the_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sandbox_url: str,
    shop: Shop,
) -> None:
    await sign_in(browser_client, MANAGER)
    page = await browser_client.get("/accounts")
    assert page.status_code == 200
    assert "Facebook" in page.text
    assert "Not connected" in page.text
    assert 'action="/accounts/facebook/connect"' in page.text
    # The connect form's redirect goes to the consent page: its origin may receive the form.
    assert f"form-action 'self' {sandbox_url}" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    choose = await _to_choice(browser_client)
    assert "Which Facebook page is Pizza Athens" in choose.text
    ids = _choice_ids(choose.text)
    assert len(ids) >= 2
    token = hidden_value(choose.text, "csrf_token")

    nothing = await browser_client.post("/accounts/choose", data={"csrf_token": token})
    assert nothing.status_code == 422
    assert "Choose one of the pages or profiles listed." in nothing.text
    forged = await browser_client.post(
        "/accounts/choose", data={"csrf_token": token, "external_id": "1\x00; DROP"}
    )
    assert forged.status_code == 400  # NUL refused before the route, as in the API
    assert "Something in that request was wrong" in forged.text

    chosen = await browser_client.post(
        "/accounts/choose", data={"csrf_token": token, "external_id": ids[1]}
    )
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == "/accounts?connected=facebook"
    landed = await browser_client.get(chosen.headers["location"])
    assert "Facebook is connected." in landed.text
    assert "Connected on" in landed.text
    assert '/disconnect">Disconnect Facebook</a>' in landed.text

    accounts = await _api_accounts(client, shop)
    assert [(a["platform"], a["external_id"], a["status"]) for a in accounts] == [
        ("facebook", ids[1], "connected")
    ]
    assert accounts[0]["name"] in landed.text
    # A second send of the same choice (double click, second tab) connects nothing more.
    again = await browser_client.post(
        "/accounts/choose", data={"csrf_token": token, "external_id": ids[0]}
    )
    assert again.status_code == 400
    assert "This choice has expired or was already made." in again.text
    assert [a["external_id"] for a in await _api_accounts(client, shop)] == [ids[1]]


async def test_a_platform_with_one_account_lands_on_the_page_connected(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    shop: Shop,
) -> None:
    await sign_in(browser_client, MANAGER)
    started = await _start(browser_client, "x")
    handed = await _consent(browser_client, started.headers["location"])
    finished = await browser_client.get(handed.headers["location"])
    assert finished.status_code == 303
    assert finished.headers["location"] == "/accounts?connected=x"
    assert [a["platform"] for a in await _api_accounts(client, shop)] == ["x"]
    # The same callback again: the state was spent.
    replay = await browser_client.get(handed.headers["location"])
    assert replay.status_code == 400
    assert "This connection has expired or was already finished." in replay.text


async def test_the_api_callback_still_answers_json_to_flows_started_by_the_api(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, shop: Shop
) -> None:
    headers = bearer(shop.manager["access_token"])
    started = await client.post(
        f"/v1/locations/{shop.location['id']}/social-accounts/x/connect", headers=headers
    )
    answer = await _consent(client, started.json()["authorize_url"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "connected"


async def test_a_consent_link_opened_in_another_session_connects_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    shop: Shop,
) -> None:
    """Someone's consent link opened by another (or in another browser) must not connect
    the second person's page to the first person's location."""
    await sign_in(browser_client, MANAGER)
    started = await _start(browser_client)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://chorus.test") as other:
        await invite_and_accept(
            client,
            admin_engine,
            shop.owner,
            "colleague@franchise.example",
            "location_manager",
            location_id=shop.location["id"],
        )
        await sign_in(other, "colleague@franchise.example")
        handed = await _consent(other, started.headers["location"])
        refused = await other.get(handed.headers["location"])
        assert refused.status_code == 403
        assert "started in another browser or by someone else" in refused.text
        assert await _api_accounts(client, shop) == []
        # Signed out, the callback asks to sign in first and finishes nothing.
        anonymous = httpx.AsyncClient(transport=transport, base_url="https://chorus.test")
        async with anonymous:
            away = await anonymous.get(handed.headers["location"])
            assert away.status_code == 303
            assert away.headers["location"].startswith("/login?next=")
    # The person who started it can still finish.
    finished = await browser_client.get(handed.headers["location"])
    assert finished.status_code == 303
    assert finished.headers["location"] == "/accounts/choose"


async def test_refused_consent_gets_a_page_that_says_so(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    shop: Shop,
) -> None:
    await sign_in(browser_client, MANAGER)
    started = await _start(browser_client)
    handed = await _consent(browser_client, started.headers["location"], sandbox_deny="1")
    refused = await browser_client.get(handed.headers["location"])
    assert refused.status_code == 400
    assert "Facebook did not give Chorus access" in refused.text
    assert 'action="/accounts/facebook/connect"' in refused.text  # try again
    assert await _api_accounts(client, shop) == []


async def test_a_page_already_serving_another_location_is_refused_with_a_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: Shop,
) -> None:
    await sign_in(browser_client, MANAGER)
    choose = await _to_choice(browser_client)
    page = _choice_ids(choose.text)[0]
    await _insert_account(admin_engine, settings, shop, shop.other_location["id"], "facebook", page)
    taken = await browser_client.post(
        "/accounts/choose",
        data={"csrf_token": hidden_value(choose.text, "csrf_token"), "external_id": page},
    )
    assert taken.status_code == 409
    assert "already connected to another location" in taken.text
    assert await _api_accounts(client, shop) == []


async def test_health_reads_in_plain_words(
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
) -> None:
    loc = shop.location["id"]
    await _insert_account(
        admin_engine,
        settings,
        shop,
        loc,
        "facebook",
        "1",
        status="needs_reconnect",
        last_error="Chorus's access to Facebook has expired or was removed. Reconnect.",
    )
    soon = datetime.now(UTC) + timedelta(days=3)
    await _insert_account(admin_engine, settings, shop, loc, "instagram", "2", expires_at=soon)
    later = datetime.now(UTC) + timedelta(days=3)
    await _insert_account(
        admin_engine, settings, shop, loc, "linkedin", "3", expires_at=later, refresh=True
    )
    await sign_in(browser_client, MANAGER)
    page = (await browser_client.get("/accounts")).text
    assert "Needs reconnecting" in page
    assert "What went wrong: Chorus&#39;s access to Facebook has expired" in page
    assert "Access ends soon" in page  # instagram: no refresh token, ends in 3 days
    assert page.count("Reconnect ") >= 2
    assert page.count(">Connected<") == 1  # linkedin renews by itself
    assert "Not connected" in page  # the rest


async def test_disconnect_asks_first_then_forgets_the_account(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
) -> None:
    account_id = await _insert_account(
        admin_engine, settings, shop, shop.location["id"], "facebook", "77", name="Pizza Page"
    )
    await sign_in(browser_client, MANAGER)
    confirm = await browser_client.get(f"/accounts/{account_id}/disconnect")
    assert confirm.status_code == 200
    assert "Disconnect Facebook?" in confirm.text
    assert "Pizza Page" in confirm.text
    no_token = await browser_client.post(f"/accounts/{account_id}/disconnect")
    assert no_token.status_code == 403
    assert (await _api_accounts(client, shop))[0]["status"] == "connected"
    token = hidden_value(confirm.text, "csrf_token")
    done = await browser_client.post(
        f"/accounts/{account_id}/disconnect", data={"csrf_token": token}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/accounts?disconnected=facebook"
    assert (await _api_accounts(client, shop))[0]["status"] == "revoked"
    assert "Facebook is disconnected." in (await browser_client.get(done.headers["location"])).text
    twice = await browser_client.post(
        f"/accounts/{account_id}/disconnect", data={"csrf_token": token}
    )
    assert twice.status_code == 303  # a second click changes nothing
    gone = await browser_client.get(f"/accounts/{account_id}/disconnect")
    assert gone.headers["location"] == "/accounts"


async def test_staff_see_the_accounts_but_change_nothing(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
) -> None:
    account_id = await _insert_account(
        admin_engine, settings, shop, shop.location["id"], "facebook", "5"
    )
    await invite_and_accept(
        client,
        admin_engine,
        shop.owner,
        STAFF,
        "location_staff",
        location_id=shop.location["id"],
    )
    await sign_in(browser_client, STAFF)
    page = await browser_client.get("/accounts")
    assert page.status_code == 200
    assert "Connected" in page.text
    assert "/connect" not in page.text
    assert "/disconnect" not in page.text
    assert "form-action 'self';" in page.headers["content-security-policy"]
    token = hidden_value(page.text, "csrf_token")
    refused = await browser_client.post("/accounts/facebook/connect", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "You may not do this" in refused.text
    assert (await browser_client.get(f"/accounts/{account_id}/disconnect")).status_code == 403
    posted = await browser_client.post(
        f"/accounts/{account_id}/disconnect", data={"csrf_token": token}
    )
    assert posted.status_code == 403
    assert (await _api_accounts(client, shop))[0]["status"] == "connected"


async def test_another_locations_or_agencys_account_is_the_404_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
) -> None:
    theirs = await _insert_account(
        admin_engine, settings, shop, shop.other_location["id"], "facebook", "9"
    )
    stranger = await sign_up(client)
    stranger_brand = await create_brand(client, stranger)
    stranger_location = await create_location(client, stranger, stranger_brand["id"])
    foreign = Shop(stranger, stranger_brand, stranger_location, stranger_location, {})
    foreign_id = await _insert_account(
        admin_engine, settings, foreign, stranger_location["id"], "facebook", "10"
    )
    await sign_in(browser_client, MANAGER)
    token = await _csrf(browser_client)
    for account_id in (theirs, foreign_id, uuid.uuid4()):
        page = await browser_client.get(f"/accounts/{account_id}/disconnect")
        assert page.status_code == 404, account_id
        assert "Page not found" in page.text
        posted = await browser_client.post(
            f"/accounts/{account_id}/disconnect", data={"csrf_token": token}
        )
        assert posted.status_code == 404
    async with AsyncSession(admin_engine) as session:
        statuses = (await session.execute(text("SELECT status FROM social_account"))).scalars()
        assert set(statuses) == {"connected"}
    for odd in ("myspace", "..%2F..%2Fv1", "x" * 300):
        assert (
            await browser_client.post(f"/accounts/{odd}/connect", data={"csrf_token": token})
        ).status_code == 404


async def test_brand_rules_decide_which_platforms_are_offered(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
) -> None:
    await _insert_account(admin_engine, settings, shop, shop.location["id"], "tiktok", "11")
    rules = await client.put(
        f"/v1/brands/{shop.brand['id']}/rules",
        json={"allowed_platforms": ["facebook", "instagram"]},
        headers=shop.owner.headers,
    )
    assert rules.status_code == 200, rules.text
    await sign_in(browser_client, MANAGER)
    page = await browser_client.get("/accounts")
    assert "Instagram" in page.text
    assert "Pinterest" not in page.text
    # TikTok stays on the page while an account is connected there, so it can be let go.
    assert "Your brand no longer allows TikTok" in page.text
    assert 'action="/accounts/tiktok/connect"' not in page.text
    refused = await browser_client.post(
        "/accounts/tiktok/connect", data={"csrf_token": hidden_value(page.text, "csrf_token")}
    )
    assert refused.status_code == 409
    assert "Your brand does not allow TikTok." in refused.text


async def test_odd_callbacks_get_pages_not_crashes(
    browser_client: httpx.AsyncClient, shop: Shop
) -> None:
    await sign_in(browser_client, MANAGER)
    for query in (
        "state=" + "x" * 10_000,
        "",
        "state=%00%00&code=%F0%9F%8D%95",
        "state=abc.def&error=access_denied",
        "state=Καλημέρα&code=مرحبا",
    ):
        page = await browser_client.get(f"/accounts/callback?{query}")
        assert page.status_code == 400, query
        assert "<h1>" in page.text


async def test_the_accounts_page_runs_as_many_queries_for_one_account_as_for_eight(
    app: FastAPI,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    shop: Shop,
) -> None:
    from shared.platforms.registry import PLATFORM_NAMES

    loc = shop.location["id"]
    await _insert_account(admin_engine, settings, shop, loc, "facebook", "100")
    await sign_in(browser_client, MANAGER)
    with StatementCounter(app.state.db.engine) as few:
        assert (await browser_client.get("/accounts")).status_code == 200
    for n, platform in enumerate(PLATFORM_NAMES[1:]):
        await _insert_account(admin_engine, settings, shop, loc, platform, str(200 + n))
    with StatementCounter(app.state.db.engine) as many:
        assert (await browser_client.get("/accounts")).status_code == 200
    assert many.count == few.count


async def test_two_tabs_connecting_at_once_connect_only_what_the_latest_offers(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    shop: Shop,
) -> None:
    """Two consent pages opened from two tabs: the choice waits per browser session, so the
    first tab's page ids are refused once the second consent came back (nothing connected
    from a stale tab), and the latest tab's choice connects."""
    await sign_in(browser_client, MANAGER)
    first = await _start(browser_client)
    second = await _start(browser_client)
    first_back = await _consent(browser_client, first.headers["location"])
    second_back = await _consent(browser_client, second.headers["location"])
    assert (await browser_client.get(first_back.headers["location"])).status_code == 303
    stale = await browser_client.get("/accounts/choose")
    stale_ids = _choice_ids(stale.text)
    assert (await browser_client.get(second_back.headers["location"])).status_code == 303
    latest = await browser_client.get("/accounts/choose")
    latest_ids = _choice_ids(latest.text)
    assert set(stale_ids).isdisjoint(latest_ids)
    token = hidden_value(latest.text, "csrf_token")
    refused = await browser_client.post(
        "/accounts/choose", data={"csrf_token": token, "external_id": stale_ids[0]}
    )
    assert refused.status_code == 422
    assert await _api_accounts(client, shop) == []
    chosen = await browser_client.post(
        "/accounts/choose", data={"csrf_token": token, "external_id": latest_ids[0]}
    )
    assert chosen.status_code == 303
    assert [a["external_id"] for a in await _api_accounts(client, shop)] == [latest_ids[0]]
