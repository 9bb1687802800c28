"""Two-factor sign-in: enrolment, login with a code, single-use codes and recovery codes,
and an owner requiring it for the agency."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import PASSWORD, Tenant, sign_up
from tests.support.access import invite_and_accept
from tests.support.two_factor import code, enrol


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _login_to(client: httpx.AsyncClient, email: str, agency: Tenant) -> dict[str, Any]:
    response = await client.post(
        "/v1/auth/login",
        json={"email": email, "password": PASSWORD, "agency_id": str(agency.agency_id)},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_enrolment_then_login_asks_for_the_code(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    tenant = await sign_up(client)
    setup = await client.post("/v1/auth/two-factor/setup", headers=tenant.headers)
    assert setup.status_code == 200
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/Chorus")
    status = (await client.get("/v1/auth/two-factor", headers=tenant.headers)).json()
    assert status == {"enabled": False, "recovery_codes_left": 0, "required_by_agency": False}
    # not on until confirmed: login still answers tokens
    assert "access_token" in await _login(client, tenant.email)

    wrong = await client.post(
        "/v1/auth/two-factor/confirm", json={"code": "000000"}, headers=tenant.headers
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_two_factor_code"
    confirmed = await client.post(
        "/v1/auth/two-factor/confirm", json={"code": code(secret)}, headers=tenant.headers
    )
    assert confirmed.status_code == 200
    assert len(set(confirmed.json()["recovery_codes"])) == 10
    status = (await client.get("/v1/auth/two-factor", headers=tenant.headers)).json()
    assert status == {"enabled": True, "recovery_codes_left": 10, "required_by_agency": False}
    again = await client.post("/v1/auth/two-factor/setup", headers=tenant.headers)
    assert again.json()["code"] == "two_factor_already_enabled"

    async with admin_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret FROM user_two_factor"))).scalar_one()
    assert secret not in stored

    challenge = await _login(client, tenant.email)
    assert challenge["two_factor_required"] is True
    assert challenge["enrolment_required"] is False
    assert "access_token" not in challenge
    bad = await client.post(
        "/v1/auth/login/two-factor",
        json={"challenge_token": challenge["challenge_token"], "code": "123456"},
    )
    assert bad.status_code == 401
    assert bad.json()["code"] == "invalid_two_factor_code"
    # the confirmation spent the current step's code: the next step's is still accepted
    next_code = code(secret, 1)
    done = await client.post(
        "/v1/auth/login/two-factor",
        json={"challenge_token": challenge["challenge_token"], "code": next_code},
    )
    assert done.status_code == 200, done.text
    signed_in = bearer(done.json()["access_token"])
    assert (await client.get("/v1/brands", headers=signed_in)).status_code == 200
    # the same code a second time (a replay) is refused
    replay = await client.post(
        "/v1/auth/login/two-factor",
        json={
            "challenge_token": (await _login(client, tenant.email))["challenge_token"],
            "code": next_code,
        },
    )
    assert replay.status_code == 401
    # a password-only token is not a challenge, nor the reverse
    forged = await client.post(
        "/v1/auth/login/two-factor",
        json={"challenge_token": tenant.access_token, "code": code(secret)},
    )
    assert forged.status_code == 401
    assert forged.json()["code"] == "invalid_token"
    assert (
        await client.get("/v1/brands", headers=bearer(challenge["challenge_token"]))
    ).status_code == 401


async def test_a_recovery_code_works_once(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    _, recovery = await enrol(client, tenant)
    challenge = (await _login(client, tenant.email))["challenge_token"]
    used = await client.post(
        "/v1/auth/login/two-factor",
        json={"challenge_token": challenge, "recovery_code": recovery[0].upper()},
    )
    assert used.status_code == 200, used.text
    token = used.json()["access_token"]
    status = (await client.get("/v1/auth/two-factor", headers=bearer(token))).json()
    assert status["recovery_codes_left"] == 9
    again = await client.post(
        "/v1/auth/login/two-factor",
        json={
            "challenge_token": (await _login(client, tenant.email))["challenge_token"],
            "recovery_code": recovery[0],
        },
    )
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_two_factor_code"


async def test_new_recovery_codes_replace_the_old_ones(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    secret, old = await enrol(client, tenant)
    fresh = await client.post(
        "/v1/auth/two-factor/recovery-codes", json={"code": code(secret, 1)}, headers=tenant.headers
    )
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    stale = await client.post(
        "/v1/auth/login/two-factor",
        json={
            "challenge_token": (await _login(client, tenant.email))["challenge_token"],
            "recovery_code": old[0],
        },
    )
    assert stale.status_code == 401
    works = await client.post(
        "/v1/auth/login/two-factor",
        json={
            "challenge_token": (await _login(client, tenant.email))["challenge_token"],
            "recovery_code": new[0],
        },
    )
    assert works.status_code == 200


async def test_disable_needs_password_and_code(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    secret, recovery = await enrol(client, tenant)
    wrong = await client.post(
        "/v1/auth/two-factor/disable",
        json={"password": "not the password", "recovery_code": recovery[1]},
        headers=tenant.headers,
    )
    assert wrong.status_code == 403
    off = await client.post(
        "/v1/auth/two-factor/disable",
        json={"password": PASSWORD, "recovery_code": recovery[1]},
        headers=tenant.headers,
    )
    assert off.status_code == 204, off.text
    assert "access_token" in await _login(client, tenant.email)


async def test_an_owner_requires_two_factor_for_the_agency(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    other_agency = await sign_up(client)
    member = await invite_and_accept(client, admin_engine, owner, "ada@agency.example", "admin")
    member_headers = bearer(member["access_token"])

    not_yet = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=owner.headers
    )
    assert not_yet.status_code == 409
    assert not_yet.json()["code"] == "two_factor_not_enabled"
    admin_try = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=member_headers
    )
    assert admin_try.status_code == 403
    assert admin_try.json()["code"] == "owner_only"

    await enrol(client, owner)
    required = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=owner.headers
    )
    assert required.status_code == 200, required.text
    assert required.json() == {"require_two_factor": True, "sessions_ended": 1}
    # the member without two-factor is signed out at once; the owner is not
    assert (await client.get("/v1/brands", headers=member_headers)).json()[
        "code"
    ] == "session_revoked"
    assert (await client.get("/v1/brands", headers=owner.headers)).status_code == 200
    policy = await client.get("/v1/auth/agency-policy", headers=owner.headers)
    assert policy.json()["require_two_factor"] is True

    # signing in again, the member must set up two-factor before any session exists
    challenge = await _login(client, "ada@agency.example")
    assert challenge["enrolment_required"] is True
    no_code_yet = await client.post(
        "/v1/auth/login/two-factor",
        json={"challenge_token": challenge["challenge_token"], "code": "123456"},
    )
    assert no_code_yet.status_code == 409
    assert no_code_yet.json()["code"] == "two_factor_not_enabled"
    setup = await client.post(
        "/v1/auth/login/two-factor/setup", json={"challenge_token": challenge["challenge_token"]}
    )
    assert setup.status_code == 200, setup.text
    enrolled = await client.post(
        "/v1/auth/login/two-factor/confirm",
        json={
            "challenge_token": challenge["challenge_token"],
            "code": code(setup.json()["secret"]),
        },
    )
    assert enrolled.status_code == 200, enrolled.text
    assert len(enrolled.json()["recovery_codes"]) == 10
    new_headers = bearer(enrolled.json()["access_token"])
    assert (await client.get("/v1/brands", headers=new_headers)).status_code == 200
    cannot_disable = await client.post(
        "/v1/auth/two-factor/disable",
        json={"password": PASSWORD, "recovery_code": enrolled.json()["recovery_codes"][0]},
        headers=new_headers,
    )
    assert cannot_disable.status_code == 409
    assert cannot_disable.json()["code"] == "two_factor_required_by_agency"

    # nor from a session in another agency that does not require it
    await invite_and_accept(client, admin_engine, other_agency, "ada@agency.example", "admin")
    elsewhere = await _login_to(client, "ada@agency.example", other_agency)
    assert elsewhere["enrolment_required"] is False  # she has two-factor on now
    elsewhere_done = await client.post(
        "/v1/auth/login/two-factor",
        json={
            "challenge_token": elsewhere["challenge_token"],
            "recovery_code": enrolled.json()["recovery_codes"][1],
        },
    )
    assert elsewhere_done.status_code == 200, elsewhere_done.text
    still_required = await client.post(
        "/v1/auth/two-factor/disable",
        json={"password": PASSWORD, "recovery_code": enrolled.json()["recovery_codes"][2]},
        headers=bearer(elsewhere_done.json()["access_token"]),
    )
    assert still_required.status_code == 409
    assert still_required.json()["code"] == "two_factor_required_by_agency"

    # another agency's people are not affected
    assert "access_token" in await _login(client, other_agency.email)
    assert (await client.get("/v1/auth/agency-policy", headers=other_agency.headers)).json()[
        "require_two_factor"
    ] is False


async def test_accepting_an_invitation_asks_for_the_second_factor_the_agency_requires(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    await enrol(client, owner)
    required = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=owner.headers
    )
    assert required.status_code == 200
    # the newcomer's password alone gets no tokens: they set up two-factor first
    answer = await invite_and_accept(client, admin_engine, owner, "new@agency.example", "admin")
    assert "access_token" not in answer
    assert "refresh_token" not in answer
    assert answer["enrolment_required"] is True
    setup = await client.post(
        "/v1/auth/login/two-factor/setup", json={"challenge_token": answer["challenge_token"]}
    )
    assert setup.status_code == 200, setup.text
    done = await client.post(
        "/v1/auth/login/two-factor/confirm",
        json={"challenge_token": answer["challenge_token"], "code": code(setup.json()["secret"])},
    )
    assert done.status_code == 200, done.text
    me = await client.get("/v1/me", headers=bearer(done.json()["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "new@agency.example"
    # from now on a login asks for the code of the authenticator just set up
    again = await _login(client, "new@agency.example")
    assert "access_token" not in again
    assert again["enrolment_required"] is False


async def test_requiring_it_ends_the_sessions_of_people_without_it_at_once(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    await enrol(client, owner)
    # the newcomer joins (and is signed in) while the agency does not require two-factor yet
    newcomer = await invite_and_accept(client, admin_engine, owner, "new@agency.example", "admin")
    assert "access_token" in newcomer
    required = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=owner.headers
    )
    assert required.status_code == 200
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": newcomer["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert (
        await client.get("/v1/brands", headers=bearer(newcomer["access_token"]))
    ).status_code == 401
    assert (await _login(client, "new@agency.example"))["enrolment_required"] is True
    # the owner, who has it, keeps working
    assert (await client.get("/v1/brands", headers=owner.headers)).status_code == 200
