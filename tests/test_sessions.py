"""Sessions: one per login; logout, ending a session, refresh-token reuse and removal from
the agency stop its access tokens at once (not when they expire)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.identity.claims_cache import ClaimsCache
from shared.identity.tokens import AccessClaims
from tests.factories import PASSWORD, create_brand, sign_up
from tests.support.access import invite_and_accept


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _brands_status(client: httpx.AsyncClient, access_token: str) -> int:
    return (await client.get("/v1/brands", headers=bearer(access_token))).status_code


async def test_logout_makes_the_same_access_token_401_at_once(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    other = await _login(client, tenant.email)
    assert await _brands_status(client, tenant.access_token) == 200

    out = await client.post("/v1/auth/logout", json={"refresh_token": tenant.refresh_token})
    assert out.status_code == 204
    refused = await client.get("/v1/brands", headers=tenant.headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "session_revoked"
    assert refused.headers["content-type"].startswith("application/problem+json")
    again = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert again.status_code == 401
    # the other login is untouched
    assert await _brands_status(client, other["access_token"]) == 200


async def test_list_sessions_and_end_one_from_another(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    phone = await _login(client, tenant.email)
    listed = await client.get("/v1/auth/sessions", headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 2
    assert [i["current"] for i in items].count(True) == 1
    assert {i["agency_id"] for i in items} == {str(tenant.agency_id)}
    assert all(i["ip"] == "203.0.113.7" for i in items)
    assert "refresh_token" not in listed.text
    phone_session = next(i for i in items if not i["current"])

    ended = await client.post(
        "/v1/auth/sessions/end", json={"session_id": phone_session["id"]}, headers=tenant.headers
    )
    assert ended.status_code == 204
    assert (await client.get("/v1/brands", headers=bearer(phone["access_token"]))).json()[
        "code"
    ] == "session_revoked"
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert await _brands_status(client, tenant.access_token) == 200
    left = (await client.get("/v1/auth/sessions", headers=tenant.headers)).json()["items"]
    assert [i["current"] for i in left] == [True]

    # ending it again, or ending a session that is not yours, is "not found"
    again = await client.post(
        "/v1/auth/sessions/end", json={"session_id": phone_session["id"]}, headers=tenant.headers
    )
    assert again.status_code == 404


async def test_a_second_agency_cannot_end_or_see_my_sessions(client: httpx.AsyncClient) -> None:
    mine = await sign_up(client)
    theirs = await sign_up(client)
    their_sessions = (await client.get("/v1/auth/sessions", headers=theirs.headers)).json()
    (their_session,) = their_sessions["items"]
    mine_listed = (await client.get("/v1/auth/sessions", headers=mine.headers)).json()["items"]
    assert their_session["id"] not in {i["id"] for i in mine_listed}

    refused = await client.post(
        "/v1/auth/sessions/end", json={"session_id": their_session["id"]}, headers=mine.headers
    )
    assert refused.status_code == 404
    assert await _brands_status(client, theirs.access_token) == 200


async def test_end_other_sessions_keeps_this_one(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    a = await _login(client, tenant.email)
    b = await _login(client, tenant.email)
    ended = await client.post("/v1/auth/sessions/end-others", headers=tenant.headers)
    assert ended.status_code == 200, ended.text
    assert ended.json() == {"ended": 2}
    assert await _brands_status(client, a["access_token"]) == 401
    assert await _brands_status(client, b["access_token"]) == 401
    assert await _brands_status(client, tenant.access_token) == 200


async def test_refresh_reuse_revokes_the_family_and_its_access_tokens(
    client: httpx.AsyncClient,
) -> None:
    tenant = await sign_up(client)
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert rotated.status_code == 200
    new_access = rotated.json()["access_token"]
    assert await _brands_status(client, new_access) == 200

    # the spent token shows up again: someone else has it
    reused = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert reused.json()["code"] == "refresh_token_reused"
    assert await _brands_status(client, new_access) == 401
    assert await _brands_status(client, tenant.access_token) == 401
    latest = await client.post(
        "/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
    )
    assert latest.status_code == 401


async def test_removal_from_the_agency_ends_that_agencys_sessions_at_once(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    other_agency = await sign_up(client)
    brand = await create_brand(client, owner)
    staff = await invite_and_accept(
        client, admin_engine, owner, "leaver@agency.example", "brand_viewer", brand_id=brand["id"]
    )
    # the same person also works for a second agency
    await invite_and_accept(client, admin_engine, other_agency, "leaver@agency.example", "admin")
    elsewhere = await client.post(
        "/v1/auth/login",
        json={
            "email": "leaver@agency.example",
            "password": PASSWORD,
            "agency_id": str(other_agency.agency_id),
        },
    )
    assert elsewhere.status_code == 200
    assert await _brands_status(client, staff["access_token"]) == 200

    membership = (
        await client.get(f"/v1/members?user_id={staff['user_id']}", headers=owner.headers)
    ).json()["items"][0]
    removed = await client.delete(f"/v1/members/{membership['id']}", headers=owner.headers)
    assert removed.status_code == 204
    assert await _brands_status(client, staff["access_token"]) == 401
    sessions = (
        await client.get("/v1/auth/sessions", headers=bearer(elsewhere.json()["access_token"]))
    ).json()["items"]
    assert {s["agency_id"] for s in sessions} == {str(other_agency.agency_id)}
    assert await _brands_status(client, elsewhere.json()["access_token"]) == 200


def test_the_claims_cache_forgets_an_ended_sessions_tokens() -> None:
    now = datetime.now(UTC)
    ended, other = uuid.uuid4(), uuid.uuid4()
    cache = ClaimsCache(capacity=3)
    for token, sid in (("a", ended), ("b", ended), ("c", other)):
        cache.put(token, AccessClaims(uuid.uuid4(), uuid.uuid4(), sid, now))
    cache.drop_sessions([ended])
    assert cache.get("a") is None
    assert cache.get("b") is None
    assert cache.get("c") is not None
    for token in ("d", "e", "f"):  # eviction keeps the per-session index bounded too
        cache.put(token, AccessClaims(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), now))
    assert len(cache) == 3
    assert len(cache._by_session) == 3
