from __future__ import annotations

import json

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD, create_brand, create_location, sign_up


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_api_key_is_shown_once_scoped_and_revocable(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    pizza = await create_brand(client, owner, "Pizza")
    burgers = await create_brand(client, owner, "Burgers")
    await create_location(client, owner, pizza["id"], name="Pizza 1")
    await create_location(client, owner, burgers["id"], name="Burger 1")

    created = await client.post(
        "/v1/api-keys",
        json={"name": "CRM sync", "role": "brand_manager", "brand_id": pizza["id"]},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"] + "_")

    listed = await client.get("/v1/api-keys", headers=owner.headers)
    assert key not in listed.text
    assert listed.json()["items"][0]["prefix"] == created.json()["prefix"]
    async with admin_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret_hash FROM api_key"))).scalar_one()
    assert key.encode() not in bytes(stored)

    locations = await client.get("/v1/locations", headers=bearer(key))
    assert locations.status_code == 200
    assert [x["name"] for x in locations.json()["items"]] == ["Pizza 1"]
    assert (await client.get(f"/v1/brands/{burgers['id']}", headers=bearer(key))).status_code == 404
    used = (await client.get("/v1/api-keys", headers=owner.headers)).json()["items"][0]
    assert used["last_used_at"] is not None

    # Keys cannot reach other agencies, cannot be owners, and stop working when revoked.
    assert (await client.get("/v1/api-keys", headers=other.headers)).json()["items"] == []
    assert (
        await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=other.headers)
    ).status_code == 404
    owner_key = await client.post(
        "/v1/api-keys", json={"name": "too much", "role": "owner"}, headers=owner.headers
    )
    assert owner_key.status_code == 422
    revoked = await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=owner.headers)
    assert revoked.json()["revoked_at"] is not None
    after = await client.get("/v1/locations", headers=bearer(key))
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_api_key"
    assert (await client.get("/v1/locations", headers=bearer(key[:-2] + "xx"))).json()[
        "code"
    ] == "invalid_api_key"


async def test_brand_manager_cannot_manage_api_keys(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    key = (
        await client.post(
            "/v1/api-keys",
            json={"name": "bm", "role": "brand_manager", "brand_id": brand["id"]},
            headers=owner.headers,
        )
    ).json()["key"]
    denied = await client.post(
        "/v1/api-keys", json={"name": "escalate", "role": "admin"}, headers=bearer(key)
    )
    assert denied.status_code == 403
    assert denied.json()["missing_permission"] == "api_key.manage"


async def test_audit_log_records_changes_without_secrets(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    loc = await create_location(client, owner, brand["id"], city="Austin")
    await client.patch(
        f"/v1/locations/{loc['id']}",
        json={"city": "Dallas"},
        headers={**owner.headers, "X-Request-ID": "req-audit-1"},
    )
    failed = await client.post(
        "/v1/auth/login", json={"email": owner.email, "password": "wrong password!"}
    )
    assert failed.status_code == 401
    key = (
        await client.post(
            "/v1/api-keys", json={"name": "k", "role": "admin"}, headers=owner.headers
        )
    ).json()["key"]
    used = await client.get("/v1/brands", headers=bearer(key))
    assert used.status_code == 200, used.text

    events = await client.get(
        f"/v1/audit-events?object_id={loc['id']}&action=location.update", headers=owner.headers
    )
    (update,) = events.json()["items"]
    assert update["changes"] == {"city": {"before": "Austin", "after": "Dallas"}}
    assert update["actor_id"] == str(owner.user_id)
    assert update["request_id"] == "req-audit-1"
    assert update["client_ip"] == "203.0.113.7"

    everything = await client.get("/v1/audit-events?limit=200", headers=owner.headers)
    actions = [e["action"] for e in everything.json()["items"]]
    for expected in (
        "agency.create",
        "brand.create",
        "location.create",
        "location.update",
        "auth.login_failed",
        "api_key.create",
        "api_key.use",
    ):
        assert expected in actions, expected
    dumped = json.dumps(everything.json())
    assert PASSWORD not in dumped
    assert key not in dumped
    assert "wrong password!" not in dumped

    # Newest first, paged with a cursor.
    first = (await client.get("/v1/audit-events?limit=2", headers=owner.headers)).json()
    second = (
        await client.get(
            f"/v1/audit-events?limit=2&cursor={first['next_cursor']}", headers=owner.headers
        )
    ).json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 4

    theirs = (await client.get("/v1/audit-events?limit=200", headers=other.headers)).json()["items"]
    assert {e["action"] for e in theirs} == {"agency.create"}
    assert str(loc["id"]) not in json.dumps(theirs)


async def test_audit_log_is_for_owners_and_admins(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    key = (
        await client.post(
            "/v1/api-keys",
            json={"name": "bm", "role": "brand_manager", "brand_id": brand["id"]},
            headers=owner.headers,
        )
    ).json()["key"]
    denied = await client.get("/v1/audit-events", headers=bearer(key))
    assert denied.status_code == 403
    # The application role cannot rewrite history.
    async with admin_engine.connect() as conn:
        grants = (
            await conn.execute(
                text(
                    "SELECT privilege_type FROM information_schema.role_table_grants "
                    "WHERE grantee = 'chorus_app' AND table_name = 'audit_event'"
                )
            )
        ).scalars()
        assert set(grants) == {"SELECT", "INSERT"}


async def test_every_issued_key_works(client: httpx.AsyncClient) -> None:
    """Secrets are URL-safe base64 and often contain "_" themselves: each must still parse."""
    owner = await sign_up(client)
    keys = [
        (
            await client.post(
                "/v1/api-keys", json={"name": f"k{i}", "role": "admin"}, headers=owner.headers
            )
        ).json()["key"]
        for i in range(12)
    ]
    assert any("_" in key[13:] for key in keys)
    for key in keys:
        assert (await client.get("/v1/brands", headers=bearer(key))).status_code == 200
