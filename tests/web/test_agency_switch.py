"""A person in two agencies switches between them from the header: a new session in the
other agency (listed and audited as a login), the old one ended; an agency requiring two-factor
sign-in is not entered without it."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.two_factor import enrol
from tests.support.web import hidden_value, sign_in


async def test_switching_agency_from_the_header(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    first = await sign_up(client, agency_name="First Agency")
    second = await sign_up(client, agency_name="Second Agency")
    brand = await create_brand(client, second)
    location = await create_location(client, second, brand["id"], name="Second Street")
    await invite_and_accept(
        client, admin_engine, second, first.email, "location_manager", location_id=location["id"]
    )
    await sign_in(browser_client, first.email)
    home = await browser_client.get("/")
    assert 'action="/switch-agency"' in home.text
    assert "Second Agency" in home.text
    before = browser_client.cookies["chorus_session"]

    switched = await browser_client.post(
        "/switch-agency",
        data={
            "agency_id": str(second.agency_id),
            "csrf_token": hidden_value(home.text, "csrf_token"),
        },
    )
    assert switched.status_code == 303
    assert browser_client.cookies["chorus_session"] != before  # a new session
    home = await browser_client.get("/")
    assert "Second Street" in home.text

    listed = await client.get("/v1/auth/sessions", headers=bearer(first.access_token))
    agencies = sorted(str(s["agency_id"]) for s in listed.json()["items"])
    # the sign-up's, the invitation's accepting, and the browser's, now in the second agency
    assert agencies == sorted([str(first.agency_id)] + [str(second.agency_id)] * 2)
    audit = await client.get("/v1/audit-events?action=auth.login", headers=second.headers)
    logins = [e for e in audit.json()["items"] if e["actor_id"] == str(first.user_id)]
    assert len(logins) == 1  # the switch is audited in the agency entered, as a login

    browser_client.cookies.set("chorus_session", before, domain="chorus.test")
    assert (await browser_client.get("/")).status_code == 303  # the old session ended


async def test_an_agency_requiring_two_factor_is_not_entered_without_it(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    first = await sign_up(client)
    strict = await sign_up(client, agency_name="Strict Agency")
    await invite_and_accept(client, admin_engine, strict, first.email, "admin")
    await enrol(client, strict)
    required = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=strict.headers
    )
    assert required.status_code == 200, required.text
    await sign_in(browser_client, first.email)
    home = await browser_client.get("/")
    refused = await browser_client.post(
        "/switch-agency",
        data={
            "agency_id": str(strict.agency_id),
            "csrf_token": hidden_value(home.text, "csrf_token"),
        },
    )
    assert refused.status_code == 403
    assert "requires two-factor sign-in" in refused.text
    assert (await browser_client.get("/")).status_code == 200  # still in the first agency


async def test_an_agency_one_is_not_in_is_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    me = await sign_up(client)
    other = await sign_up(client)
    await sign_in(browser_client, me.email)
    home = await browser_client.get("/")
    assert 'action="/switch-agency"' not in home.text  # one agency: no switcher
    refused = await browser_client.post(
        "/switch-agency",
        data={
            "agency_id": str(other.agency_id),
            "csrf_token": hidden_value(home.text, "csrf_token"),
        },
    )
    assert refused.status_code == 404
