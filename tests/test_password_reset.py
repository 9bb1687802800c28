"""Forgot password: the same answer for any address, a one-time link that expires, and a
reset that signs the account out everywhere."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD, sign_up
from tests.support.mailbox import last_mail_to

NEW = "a freshly chosen passphrase"
_TOKEN = re.compile(r"Reset token: (\S+)")


async def _reset_token(engine: AsyncEngine, address: str) -> str:
    match = _TOKEN.search(await last_mail_to(engine, address))
    assert match, "no reset token in the mail"
    return match.group(1)


async def _mails_to(engine: AsyncEngine, address: str) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text("SELECT count(*) FROM outbound_email WHERE to_address = :a"),
                    {"a": address},
                )
            ).scalar_one()
        )


async def test_known_and_unknown_addresses_get_the_same_answer(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    known = await client.post("/v1/auth/password/forgot", json={"email": tenant.email.upper()})
    unknown = await client.post(
        "/v1/auth/password/forgot", json={"email": "nobody-here@agency.example"}
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.headers.get("content-length") == unknown.headers.get("content-length")
    assert "cpr_" not in known.text
    assert await _mails_to(admin_engine, tenant.email) == 1
    assert await _mails_to(admin_engine, "nobody-here@agency.example") == 0
    # the digest is stored, never the token
    token = await _reset_token(admin_engine, tenant.email)
    async with admin_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token_hash FROM password_reset"))).scalars().all()
    assert len(stored) == 1
    assert token.encode() not in stored[0]


async def test_the_link_works_once_and_ends_every_session(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    other = await sign_up(client)
    await client.post("/v1/auth/password/forgot", json={"email": tenant.email})
    token = await _reset_token(admin_engine, tenant.email)

    weak = await client.post(
        "/v1/auth/password/reset", json={"token": token, "new_password": "short"}
    )
    assert weak.status_code == 422  # and the link is not spent by a refused password
    done = await client.post("/v1/auth/password/reset", json={"token": token, "new_password": NEW})
    assert done.status_code == 204, done.text

    refused = await client.get("/v1/brands", headers=tenant.headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "session_revoked"
    old_refresh = await client.post(
        "/v1/auth/refresh", json={"refresh_token": tenant.refresh_token}
    )
    assert old_refresh.status_code == 401
    assert (await client.get("/v1/brands", headers=other.headers)).status_code == 200
    assert (
        await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    ).status_code == 401
    login = await client.post("/v1/auth/login", json={"email": tenant.email, "password": NEW})
    assert login.status_code == 200

    again = await client.post(
        "/v1/auth/password/reset", json={"token": token, "new_password": "yet another one!"}
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_reset_token"
    assert again.headers["content-type"].startswith("application/problem+json")
    events = await client.get(
        "/v1/audit-events?action=auth.password_reset",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert len(events.json()["items"]) == 1


async def test_the_link_expires_and_a_new_request_replaces_it(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    await client.post("/v1/auth/password/forgot", json={"email": tenant.email})
    first = await _reset_token(admin_engine, tenant.email)
    await client.post("/v1/auth/password/forgot", json={"email": tenant.email})
    second = await _reset_token(admin_engine, tenant.email)
    assert first != second
    replaced = await client.post(
        "/v1/auth/password/reset", json={"token": first, "new_password": NEW}
    )
    assert replaced.json()["code"] == "invalid_reset_token"

    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE password_reset SET expires_at = now() - interval '1 second'")
        )
    expired = await client.post(
        "/v1/auth/password/reset", json={"token": second, "new_password": NEW}
    )
    assert expired.status_code == 400
    assert expired.json()["code"] == "reset_token_expired"
    assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200
    assert (
        await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    ).status_code == 200


async def test_forgot_password_is_rate_limited_like_login(client: httpx.AsyncClient) -> None:
    statuses = [
        (
            await client.post("/v1/auth/password/forgot", json={"email": "target@agency.example"})
        ).status_code
        for _ in range(12)
    ]
    assert statuses[0] == 202
    assert statuses[-1] == 429
    garbage = await client.post(
        "/v1/auth/password/reset", json={"token": "cpr_made-up", "new_password": NEW}
    )
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "invalid_reset_token"
