"""Changing one's password: the current one is required, and every other session ends."""

from __future__ import annotations

import httpx

from tests.factories import PASSWORD, sign_up

NEW = "a brand new passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_change_password_ends_other_sessions_and_keeps_this_one(
    client: httpx.AsyncClient,
) -> None:
    tenant = await sign_up(client)
    other_agency = await sign_up(client)
    laptop = (
        await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    ).json()

    changed = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers=tenant.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"sessions_ended": 1}
    assert "password" not in changed.text.replace("sessions_ended", "")

    assert (await client.get("/v1/brands", headers=bearer(laptop["access_token"]))).json()[
        "code"
    ] == "session_revoked"
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200
    # someone else's login is untouched
    assert (await client.get("/v1/brands", headers=other_agency.headers)).status_code == 200

    old = await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post("/v1/auth/login", json={"email": tenant.email, "password": NEW})
    assert new.status_code == 200

    events = await client.get(
        "/v1/audit-events?action=auth.password_change", headers=tenant.headers
    )
    assert events.status_code == 200
    assert len(events.json()["items"]) == 1


async def test_change_password_needs_the_current_one_and_a_good_new_one(
    client: httpx.AsyncClient,
) -> None:
    tenant = await sign_up(client)
    laptop = (
        await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    ).json()
    wrong = await client.post(
        "/v1/auth/password",
        json={"current_password": "not my password", "new_password": NEW},
        headers=tenant.headers,
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    assert wrong.headers["content-type"].startswith("application/problem+json")
    weak = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=tenant.headers,
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "body.new_password"
    same = await client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": PASSWORD},
        headers=tenant.headers,
    )
    assert same.status_code == 422
    # nothing changed: the old password still logs in and the other session still works
    assert (await client.get("/v1/brands", headers=bearer(laptop["access_token"]))).status_code == (
        200
    )
    login = await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    assert login.status_code == 200
    failed = await client.get(
        "/v1/audit-events?action=auth.password_change_failed", headers=tenant.headers
    )
    assert len(failed.json()["items"]) == 1


async def test_change_password_is_rate_limited(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    statuses = []
    for _ in range(12):
        r = await client.post(
            "/v1/auth/password",
            json={"current_password": "guess guess guess", "new_password": NEW},
            headers=tenant.headers,
        )
        statuses.append(r.status_code)
    assert statuses[0] == 403
    assert statuses[-1] == 429
