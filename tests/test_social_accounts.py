"""Connecting a location's social accounts through the API and the platform sandbox, as a
location manager does it: consent page, callback, page choice; then listing, disconnecting;
tokens sealed in the database and never shown."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.crypto import DecryptionFailed, keyring_from_settings
from shared.platforms.registry import PLATFORM_NAMES
from shared.social_accounts import sealing
from shared.social_accounts.models import SocialAccount
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.social_accounts import connect, consent_and_come_back, start


async def _row(engine: AsyncEngine, account_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text("SELECT * FROM social_account WHERE id = :id"), {"id": account_id}
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> tuple[Tenant, dict[str, Any], dict[str, Any]]:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    return owner, brand, location


async def test_a_location_manager_connects_every_platform(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, brand, location = shop
    manager = await invite_and_accept(
        client,
        admin_engine,
        owner,
        "manager@franchise.example",
        "location_manager",
        location_id=location["id"],
    )
    headers = bearer(manager["access_token"])
    for platform in PLATFORM_NAMES:
        account = await connect(client, headers, location["id"], platform)
        assert account["status"] == "connected", platform
        assert account["platform"] == platform
        assert account["name"]
        assert "token" not in {k for k in account if k.endswith("token")}
    listed = await client.get(f"/v1/locations/{location['id']}/social-accounts", headers=headers)
    assert listed.status_code == 200
    assert sorted(a["platform"] for a in listed.json()) == sorted(PLATFORM_NAMES)
    assert {a["status"] for a in listed.json()} == {"connected"}
    platforms = await client.get("/v1/platforms", headers=headers)
    assert {p["platform"] for p in platforms.json() if p["configured"]} == set(PLATFORM_NAMES)


async def test_tokens_are_sealed_in_the_database_and_work_when_opened(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    account = await connect(client, owner.headers, location["id"], "facebook", pick=1)
    row = await _row(admin_engine, account["id"])
    assert row["access_token"].startswith("v1.")
    assert row["token_key_id"] == keyring_from_settings(settings).active_kid
    assert "EAA" not in row["access_token"]  # Graph tokens start EAA; the envelope hides it
    # The sealed token is the page's own: it reads that page at the sandbox.
    model = SocialAccount(**row)
    token = sealing.token_set(model, keyring_from_settings(settings)).access_token
    me = await sandbox.get("/facebook/v21.0/me", params={"access_token": token.reveal()})
    assert me.json()["id"] == account["external_id"]
    # Moved to another row, the envelope does not open.
    other = SocialAccount(**{**row, "id": uuid.uuid4()})
    with pytest.raises(DecryptionFailed, match="copied from another owner"):
        sealing.token_set(other, keyring_from_settings(settings))
    # Nothing in any answer carries the token.
    for path in (
        f"/v1/social-accounts/{account['id']}",
        f"/v1/locations/{location['id']}/social-accounts",
        "/v1/social-accounts",
        f"/v1/locations/{location['id']}/events",
    ):
        answer = await client.get(path, headers=owner.headers)
        assert answer.status_code == 200, (path, answer.text)
        assert token.reveal() not in answer.text


async def test_the_user_picks_which_page_is_this_locations(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    started = await start(client, owner.headers, location["id"], "facebook")
    result = (await consent_and_come_back(client, started.json()["authorize_url"])).json()
    assert result["status"] == "choose"
    assert [c["kind"] for c in result["choices"]] == ["page", "page"]
    path = f"/v1/locations/{location['id']}/social-accounts/facebook/choose"
    wrong = await client.post(
        path,
        json={"selection_id": result["selection_id"], "external_id": "not-offered"},
        headers=owner.headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.external_id"
    # Someone else in the agency cannot finish another person's flow.
    other = await invite_and_accept(client, admin_engine, owner, "admin2@agency.example", "admin")
    stolen = await client.post(
        path,
        json={
            "selection_id": result["selection_id"],
            "external_id": result["choices"][0]["external_id"],
        },
        headers=bearer(other["access_token"]),
    )
    assert stolen.status_code == 422
    assert stolen.json()["errors"][0]["field"] == "body.selection_id"
    picked = await client.post(
        path,
        json={
            "selection_id": result["selection_id"],
            "external_id": result["choices"][1]["external_id"],
        },
        headers=owner.headers,
    )
    assert picked.status_code == 201
    assert picked.json()["external_id"] == result["choices"][1]["external_id"]
    assert picked.json()["connected_by"] == str(owner.user_id)
    again = await client.post(
        path,
        json={
            "selection_id": result["selection_id"],
            "external_id": result["choices"][0]["external_id"],
        },
        headers=owner.headers,
    )
    assert again.status_code == 422  # a selection is used once


async def test_state_is_signed_single_use_and_refusals_are_explained(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    forged = await client.get(
        "/v1/social-accounts/oauth/callback", params={"state": "abc.def", "code": "x"}
    )
    assert forged.status_code == 400
    assert forged.json()["code"] == "invalid_state"
    started = await start(client, owner.headers, location["id"], "x")
    authorize_url = started.json()["authorize_url"]
    async with httpx.AsyncClient() as browser:
        page = await browser.get(authorize_url)
    back = urlsplit(page.headers["location"])
    first = await client.get(f"{back.path}?{back.query}")
    assert first.status_code == 200, first.text
    replay = await client.get(f"{back.path}?{back.query}")
    assert replay.status_code == 400
    assert replay.json()["code"] == "invalid_state"
    declined_start = await start(client, owner.headers, location["id"], "facebook")
    declined = await consent_and_come_back(
        client, declined_start.json()["authorize_url"], sandbox_deny="1"
    )
    assert declined.status_code == 400
    assert declined.json()["code"] == "consent_refused"
    assert (
        "user_denied" in declined.json()["detail"] or "access_denied" in declined.json()["detail"]
    )


async def test_unknown_platform_and_disallowed_platform_are_refused(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, brand, location = shop
    unknown = await start(client, owner.headers, location["id"], "myspace")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "path.platform"
    rules = await client.put(
        f"/v1/brands/{brand['id']}/rules",
        json={"allowed_platforms": ["facebook", "instagram"]},
        headers=owner.headers,
    )
    assert rules.status_code == 200, rules.text
    refused = await start(client, owner.headers, location["id"], "tiktok")
    assert refused.status_code == 409
    assert refused.json()["code"] == "platform_not_allowed"


async def test_one_page_cannot_serve_two_locations(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    """Two locations posting to one page would post everything twice."""
    owner, brand, location = shop
    second = await create_location(client, owner, brand["id"])
    started = await start(client, owner.headers, location["id"], "facebook")
    result = (await consent_and_come_back(client, started.json()["authorize_url"])).json()
    page = result["choices"][0]["external_id"]
    # The page is already the second location's (connected by a colleague earlier).
    await _insert_account(admin_engine, settings, owner, brand["id"], second["id"], page)
    taken = await client.post(
        f"/v1/locations/{location['id']}/social-accounts/facebook/choose",
        json={"selection_id": result["selection_id"], "external_id": page},
        headers=owner.headers,
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "account_in_use"
    assert taken.json()["location_id"] == second["id"]
    listed = await client.get(
        f"/v1/locations/{location['id']}/social-accounts", headers=owner.headers
    )
    assert listed.json() == []
    # The other page of the same login is free.
    other = await client.post(
        f"/v1/locations/{location['id']}/social-accounts/facebook/choose",
        json={
            "selection_id": result["selection_id"],
            "external_id": result["choices"][1]["external_id"],
        },
        headers=owner.headers,
    )
    assert other.status_code == 201


async def _insert_account(
    engine: AsyncEngine,
    settings: Settings,
    owner: Tenant,
    brand_id: str,
    location_id: str,
    external_id: str,
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from shared.crypto import Sealed
    from shared.ids import new_id

    account = SocialAccount(
        id=new_id(),
        agency_id=owner.agency_id,
        brand_id=uuid.UUID(brand_id),
        location_id=uuid.UUID(location_id),
        platform="facebook",
        external_id=external_id,
        name="Taken page",
        kind="page",
        status="connected",
        connected_at=datetime.now(UTC),
    )
    sealing.store_tokens(
        account,
        keyring_from_settings(settings),
        access_token=Sealed("EAAelsewhere"),
        refresh_token=None,
        expires_at=None,
        refresh_expires_at=None,
    )
    async with AsyncSession(engine) as session, session.begin():
        session.add(account)


async def test_disconnect_revokes_at_the_platform_and_forgets_the_tokens(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any], dict[str, Any]],
) -> None:
    owner, _, location = shop
    account = await connect(client, owner.headers, location["id"], "facebook")
    row = await _row(admin_engine, account["id"])
    token = sealing.token_set(SocialAccount(**row), keyring_from_settings(settings)).access_token
    gone = await client.delete(f"/v1/social-accounts/{account['id']}", headers=owner.headers)
    assert gone.status_code == 200, gone.text
    assert gone.json()["account"]["status"] == "revoked"
    assert gone.json()["revoked_at_platform"] is True
    after = await _row(admin_engine, account["id"])
    assert after["access_token"] is None
    assert after["refresh_token"] is None
    refused = await sandbox.get("/facebook/v21.0/me", params={"access_token": token.reveal()})
    assert refused.json()["error"]["code"] == 190
    events = await client.get(f"/v1/locations/{location['id']}/events", headers=owner.headers)
    assert [e["type"] for e in events.json()["items"]] == [
        "account.disconnected",
        "account.connected",
    ]
    # Connecting again brings the same row back to life.
    again = await connect(client, owner.headers, location["id"], "facebook")
    assert again["id"] == account["id"]
    assert again["status"] == "connected"
