"""Roles at every scope, invitations, members, /v1/me: each role does its job and no more."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD, create_brand, create_group, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.mailbox import invitation_token


async def test_invited_people_see_and_do_only_their_part(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    other_agency = await sign_up(client)
    pizza = await create_brand(client, owner, "Pizza")
    burgers = await create_brand(client, owner, "Burgers")
    nyc = await create_location(client, owner, pizza["id"], name="NYC")
    await create_location(client, owner, pizza["id"], name="Boston")
    await create_location(client, owner, burgers["id"], name="Burger Town")

    manager = await invite_and_accept(
        client, admin_engine, owner, "bm@agency.example", "brand_manager", brand_id=pizza["id"]
    )
    franchisee = await invite_and_accept(
        client, admin_engine, owner, "lm@agency.example", "location_manager", location_id=nyc["id"]
    )
    assert manager["agency_id"] == str(owner.agency_id)

    async def names(token: str) -> set[str]:
        listed = await client.get("/v1/locations", headers=bearer(token))
        assert listed.status_code == 200
        return {x["name"] for x in listed.json()["items"]}

    assert await names(manager["access_token"]) == {"NYC", "Boston"}
    assert await names(franchisee["access_token"]) == {"NYC"}
    brands = await client.get("/v1/brands", headers=bearer(franchisee["access_token"]))
    assert [b["name"] for b in brands.json()["items"]] == ["Pizza"]

    # The franchisee edits their own store, not a sibling, and cannot create stores.
    own = await client.patch(
        f"/v1/locations/{nyc['id']}",
        json={"city": "Manhattan"},
        headers=bearer(franchisee["access_token"]),
    )
    assert own.status_code == 200
    denied = await client.post(
        "/v1/locations",
        json={"brand_id": pizza["id"], "name": "Mine", "country": "US", "time_zone": "UTC"},
        headers=bearer(franchisee["access_token"]),
    )
    assert denied.status_code == 403
    assert denied.json()["missing_permission"] == "location.create"

    # The brand manager works inside Pizza only; Burgers does not exist for them.
    made = await client.post(
        "/v1/locations",
        json={"brand_id": pizza["id"], "name": "Queens", "country": "US", "time_zone": "UTC"},
        headers=bearer(manager["access_token"]),
    )
    assert made.status_code == 201
    hidden = await client.get(
        f"/v1/brands/{burgers['id']}", headers=bearer(manager["access_token"])
    )
    assert hidden.status_code == 404
    no_delete = await client.delete(
        f"/v1/brands/{pizza['id']}", headers=bearer(manager["access_token"])
    )
    assert no_delete.status_code == 403
    assert no_delete.json()["missing_permission"] == "brand.delete"

    # Another agency sees nothing of any of it.
    theirs = (await client.get("/v1/members", headers=other_agency.headers)).json()["items"]
    assert [(m["email"], m["role"]) for m in theirs] == [(other_agency.email, "owner")]
    assert (await client.get("/v1/invitations", headers=other_agency.headers)).json()["items"] == []


async def test_me_lists_roles_and_permissions(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client, agency_name="Northwind")
    brand = await create_brand(client, owner)
    viewer = await invite_and_accept(
        client, admin_engine, owner, "viewer@agency.example", "brand_viewer", brand_id=brand["id"]
    )
    me = (await client.get("/v1/me", headers=bearer(viewer["access_token"]))).json()
    assert me["email"] == "viewer@agency.example"
    assert me["agency"]["name"] == "Northwind"
    assert [a["name"] for a in me["agencies"]] == ["Northwind"]
    (grant,) = me["grants"]
    assert (grant["role"], grant["scope_type"], grant["scope_id"]) == (
        "brand_viewer",
        "brand",
        brand["id"],
    )
    assert "location.read" in grant["permissions"]
    assert "location.update" not in grant["permissions"]


async def test_nobody_grants_above_their_own_role(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    admin = await invite_and_accept(client, admin_engine, owner, "admin@agency.example", "admin")
    manager = await invite_and_accept(
        client, admin_engine, owner, "bm@agency.example", "brand_manager", brand_id=brand["id"]
    )
    loc = await create_location(client, owner, brand["id"])

    to_owner = await client.post(
        "/v1/invitations",
        json={"email": "x@agency.example", "role": "owner"},
        headers=bearer(admin["access_token"]),
    )
    assert to_owner.status_code == 403
    assert to_owner.json()["code"] == "role_above_own"

    to_admin = await client.post(
        "/v1/invitations",
        json={"email": "y@agency.example", "role": "admin"},
        headers=bearer(manager["access_token"]),
    )
    assert to_admin.status_code == 403

    # Within their reach and rank, a brand manager may invite a location manager.
    ok = await client.post(
        "/v1/invitations",
        json={"email": "lm@agency.example", "role": "location_manager", "location_id": loc["id"]},
        headers=bearer(manager["access_token"]),
    )
    assert ok.status_code == 201

    wrong_scope = await client.post(
        "/v1/invitations",
        json={"email": "z@agency.example", "role": "brand_manager", "location_id": loc["id"]},
        headers=owner.headers,
    )
    assert wrong_scope.status_code == 422
    assert wrong_scope.json()["errors"][0]["field"] == "body.role"


async def test_invitation_is_single_use_revocable_and_expires(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    body = {"email": "once@agency.example", "role": "brand_viewer", "brand_id": brand["id"]}
    await client.post("/v1/invitations", json=body, headers=owner.headers)
    token = await invitation_token(admin_engine, "once@agency.example")
    accept = {"token": token, "password": PASSWORD, "full_name": "Once"}
    assert (await client.post("/v1/invitations/accept", json=accept)).status_code == 200
    again = await client.post("/v1/invitations/accept", json=accept)
    assert again.status_code == 401
    assert again.json()["code"] == "invitation_accepted"

    tampered = await client.post(
        "/v1/invitations/accept", json={**accept, "token": token[:-3] + "AAA"}
    )
    assert tampered.json()["code"] == "invalid_invitation"

    revoked = await client.post(
        "/v1/invitations", json={**body, "email": "revoked@agency.example"}, headers=owner.headers
    )
    await client.delete(f"/v1/invitations/{revoked.json()['id']}", headers=owner.headers)
    token = await invitation_token(admin_engine, "revoked@agency.example")
    gone = await client.post("/v1/invitations/accept", json={**accept, "token": token})
    assert gone.json()["code"] == "invitation_revoked"

    late = await client.post(
        "/v1/invitations", json={**body, "email": "late@agency.example"}, headers=owner.headers
    )
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE invitation SET expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": late.json()["id"]},
        )
    token = await invitation_token(admin_engine, "late@agency.example")
    expired = await client.post("/v1/invitations/accept", json={**accept, "token": token})
    assert expired.json()["code"] == "invitation_expired"
    listed = (await client.get("/v1/invitations", headers=owner.headers)).json()["items"]
    assert {i["email"]: i["status"] for i in listed} == {
        "once@agency.example": "accepted",
        "revoked@agency.example": "revoked",
        "late@agency.example": "expired",
    }


async def test_existing_user_accepts_with_their_password(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    first = await sign_up(client, email="shared@agency.example")
    second = await sign_up(client)
    await client.post(
        "/v1/invitations",
        json={"email": "shared@agency.example", "role": "admin"},
        headers=second.headers,
    )
    token = await invitation_token(admin_engine, "shared@agency.example")
    wrong = await client.post(
        "/v1/invitations/accept", json={"token": token, "password": "not the password!"}
    )
    assert wrong.status_code == 401
    ok = await client.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD})
    assert ok.json()["agency_id"] == str(second.agency_id)
    me = (await client.get("/v1/me", headers=bearer(ok.json()["access_token"]))).json()
    assert {a["id"] for a in me["agencies"]} == {str(first.agency_id), str(second.agency_id)}
    login_second = await client.post(
        "/v1/auth/login",
        json={
            "email": "shared@agency.example",
            "password": PASSWORD,
            "agency_id": str(second.agency_id),
        },
    )
    assert login_second.json()["agency_id"] == str(second.agency_id)


async def test_last_owner_stays_and_removed_members_are_signed_out(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    members = (await client.get("/v1/members", headers=owner.headers)).json()["items"]
    (own,) = members
    demote = await client.patch(
        f"/v1/members/{own['id']}", json={"role": "admin"}, headers=owner.headers
    )
    assert demote.status_code == 409
    assert demote.json()["code"] == "last_owner"
    assert (await client.delete(f"/v1/members/{own['id']}", headers=owner.headers)).json()[
        "code"
    ] == "last_owner"

    staff = await invite_and_accept(
        client, admin_engine, owner, "staff@agency.example", "brand_viewer", brand_id=brand["id"]
    )
    promoted = await client.patch(
        f"/v1/members?user_id={staff['user_id']}",
        json={"role": "brand_manager"},
        headers=owner.headers,
    )
    assert promoted.status_code == 405
    membership = (
        await client.get(f"/v1/members?user_id={staff['user_id']}", headers=owner.headers)
    ).json()["items"][0]
    promoted = await client.patch(
        f"/v1/members/{membership['id']}", json={"role": "brand_manager"}, headers=owner.headers
    )
    assert promoted.json()["role"] == "brand_manager"
    to_agency_role = await client.patch(
        f"/v1/members/{membership['id']}", json={"role": "admin"}, headers=owner.headers
    )
    assert to_agency_role.status_code == 422

    removed = await client.delete(f"/v1/members/{membership['id']}", headers=owner.headers)
    assert removed.status_code == 204
    assert (
        await client.get("/v1/brands", headers=bearer(staff["access_token"]))
    ).status_code == 401
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": staff["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_groups_are_invisible_to_location_people(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    loc = await create_location(client, owner, brand["id"])
    group = await create_group(client, owner, brand["id"])
    staff = await invite_and_accept(
        client, admin_engine, owner, "staff@agency.example", "location_staff", location_id=loc["id"]
    )
    got = await client.get(
        f"/v1/location-groups/{group['id']}", headers=bearer(staff["access_token"])
    )
    assert got.status_code == 404
    edit = await client.patch(
        f"/v1/locations/{loc['id']}", json={"city": "X"}, headers=bearer(staff["access_token"])
    )
    assert edit.status_code == 403
