"""/agency/api-keys over HTTP: the list (name, role and place, created, last used, status),
creating a key whose secret is shown once and never again, revoking it (requests with it are
refused at once); bad input next to its field with nothing written; brand people get the 403
page; another agency's key is the 404 page; a plan without API keys says so and its form's
URL answers the 402 page."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import sign_up
from tests.support.web import hidden_value, sign_in
from tests.support.web_agency import MANAGER, VIEWER, AgencyWorld, agency_world, set_billing


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> AgencyWorld:
    return await agency_world(client, admin_engine)


async def _key_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM api_key")) or 0)


async def _create(web: httpx.AsyncClient, **form: str) -> httpx.Response:
    token = hidden_value((await web.get("/agency/api-keys")).text, "csrf_token")
    return await web.post("/agency/api-keys", data={"csrf_token": token, **form})


async def test_a_key_is_created_shown_once_used_and_revoked(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    home = await browser_client.get("/")
    assert 'href="/agency/api-keys"' in home.text
    empty = await browser_client.get("/agency/api-keys")
    assert empty.status_code == 200
    assert "No key yet." in empty.text

    created = await _create(
        browser_client, name="CRM sync", role="brand_manager", brand_id=world.brand["id"]
    )
    assert created.status_code == 200, created.text
    assert "Your new API key" in created.text
    assert "Chorus shows it only this once" in created.text
    found = re.search(r'value="(chk_[a-z0-9]{8}_[^"]+)"', created.text)
    assert found
    secret = found.group(1)
    assert "Brand: Alpha Pizza" in created.text

    listed = await browser_client.get("/agency/api-keys")
    assert secret not in listed.text
    assert secret[:12] in listed.text  # the visible prefix only
    for expected in ("CRM sync", "Brand manager", "Brand: Alpha Pizza", "Never", "In force"):
        assert expected in listed.text, expected

    used = await client.get("/v1/locations", headers={"Authorization": f"Bearer {secret}"})
    assert used.status_code == 200
    assert "Never" not in (await browser_client.get("/agency/api-keys")).text

    page = (await browser_client.get("/agency/api-keys")).text
    action = re.search(r'action="(/agency/api-keys/[^"]+/revoke)"', page)
    assert action
    assert (await browser_client.post(action.group(1))).status_code == 403  # no CSRF token
    revoked = await browser_client.post(
        action.group(1), data={"csrf_token": hidden_value(page, "csrf_token")}
    )
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/agency/api-keys?done=revoked"
    after = await browser_client.get(revoked.headers["location"])
    assert "The key was revoked" in after.text
    assert "Revoked" in after.text
    assert 'action="/agency/api-keys/' not in after.text.replace('action="/agency/api-keys"', "")
    refused = await client.get("/v1/locations", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


async def test_an_agency_wide_key_with_an_expiry(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    created = await _create(browser_client, name="Reports", role="admin", expires_on="2099-01-31")
    assert created.status_code == 200
    assert "The whole agency" in created.text
    keys = (await client.get("/v1/api-keys", headers=world.owner.headers)).json()["items"]
    assert [(k["name"], k["role"], k["scope_id"], k["expires_at"][:10]) for k in keys] == [
        ("Reports", "admin", None, "2099-01-31")
    ]
    assert "Until" in (await browser_client.get("/agency/api-keys")).text


@pytest.mark.parametrize(
    ("form", "field", "problem"),
    [
        ({"name": "", "role": "admin"}, "name", "Give the key a name"),
        ({"name": "x" * 300, "role": "admin"}, "name", "at most 200 characters"),
        ({"name": "K", "role": ""}, "role", "Choose the role"),
        ({"name": "K", "role": "owner"}, "role", "A key cannot be an owner"),
        ({"name": "K", "role": "brand_viewer"}, "brand_id", "Choose the brand"),
        ({"name": "K", "role": "location_staff"}, "location_id", "Choose the location"),
        ({"name": "K", "role": "admin", "expires_on": "soon"}, "expires_on", "like 2031-12-31"),
        ({"name": "K", "role": "admin", "expires_on": "2001-01-01"}, "expires_on", "after today"),
        (
            {
                "name": "K",
                "role": "brand_viewer",
                "brand_id": "00000000-0000-0000-0000-000000000000",
            },
            "brand_id",
            "You may not give keys at that brand.",
        ),
    ],
)
async def test_a_bad_key_comes_back_next_to_its_field_with_nothing_written(
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
    form: dict[str, str],
    field: str,
    problem: str,
) -> None:
    await sign_in(browser_client, world.owner.email)
    answer = await _create(browser_client, **form)
    assert answer.status_code == 422, answer.text
    shown = re.search(rf'id="{field}-problem">([^<]*)<', answer.text)
    assert shown, answer.text
    assert problem in shown.group(1)
    assert "chk_" not in answer.text
    assert await _key_count(admin_engine) == 0


@pytest.mark.parametrize("email", [MANAGER, VIEWER])
async def test_brand_people_get_no_link_and_the_403_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    world: AgencyWorld,
    email: str,
) -> None:
    made = await client.post(
        "/v1/api-keys", json={"name": "Owner's", "role": "admin"}, headers=world.owner.headers
    )
    key_id = made.json()["id"]
    await sign_in(browser_client, email)
    home = await browser_client.get("/")
    assert "/agency/api-keys" not in home.text
    assert (await browser_client.get("/agency/api-keys")).status_code == 403
    token = hidden_value(home.text, "csrf_token")
    posted = await browser_client.post(
        "/agency/api-keys", data={"csrf_token": token, "name": "Mine", "role": "brand_viewer"}
    )
    assert posted.status_code == 403
    revoked = await browser_client.post(
        f"/agency/api-keys/{key_id}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code in (403, 404)
    assert await _key_count(admin_engine) == 1
    keys = (await client.get("/v1/api-keys", headers=world.owner.headers)).json()["items"]
    assert keys[0]["revoked_at"] is None


async def test_another_agencys_key_is_the_404_page(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    stranger = await sign_up(client)
    made = await client.post(
        "/v1/api-keys", json={"name": "Theirs", "role": "admin"}, headers=stranger.headers
    )
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/api-keys")
    assert "Theirs" not in page.text
    answer = await browser_client.post(
        f"/agency/api-keys/{made.json()['id']}/revoke",
        data={"csrf_token": hidden_value(page.text, "csrf_token")},
    )
    assert answer.status_code == 404
    theirs = (await client.get("/v1/api-keys", headers=stranger.headers)).json()["items"]
    assert theirs[0]["revoked_at"] is None


async def test_a_plan_without_api_keys_says_so_and_answers_the_upgrade_page(
    browser_client: httpx.AsyncClient, admin_engine: AsyncEngine, world: AgencyWorld
) -> None:
    await set_billing(admin_engine, world.owner.agency_id, plan="starter", status="trialing")
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/api-keys")
    assert page.status_code == 200
    assert "The Starter plan does not include API keys." in page.text
    assert 'href="/agency/billing"' in page.text
    answer = await browser_client.post(
        "/agency/api-keys",
        data={"csrf_token": hidden_value(page.text, "csrf_token"), "name": "K", "role": "admin"},
    )
    assert answer.status_code == 402
    assert "Your plan does not include this" in answer.text
    assert await _key_count(admin_engine) == 0


async def test_the_api_keys_page_in_greek(
    browser_client: httpx.AsyncClient, world: AgencyWorld
) -> None:
    await sign_in(browser_client, world.owner.email)
    page = await browser_client.get("/agency/api-keys", headers={"Accept-Language": "el"})
    assert page.status_code == 200
    assert "<h1>Κλειδιά API</h1>" in page.text
    assert "Δημιουργία κλειδιού" in page.text
