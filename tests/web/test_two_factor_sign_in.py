"""Signing in to the web app with a second factor: the code step when it is on, and setting
it up at sign-in when the agency requires it."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import sign_up
from tests.support.access import invite_and_accept
from tests.support.two_factor import code, enrol
from tests.support.web import hidden_value, sign_in


async def test_the_code_step_when_two_factor_is_on(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient
) -> None:
    tenant = await sign_up(client)
    secret, _ = await enrol(client, tenant)
    step = await sign_in(browser_client, tenant.email)
    assert step.status_code == 200
    assert 'action="/login/two-factor"' in step.text
    assert "chorus_session" not in step.headers.get("set-cookie", "")
    challenge = hidden_value(step.text, "challenge_token")
    csrf = hidden_value(step.text, "csrf_token")

    wrong = await browser_client.post(
        "/login/two-factor",
        data={"challenge_token": challenge, "code": "000000", "csrf_token": csrf},
    )
    assert wrong.status_code == 401
    assert "That code is wrong" in wrong.text
    assert (await browser_client.get("/")).status_code == 303  # not signed in

    right = await browser_client.post(
        "/login/two-factor",
        # the next step's code: enrolling spent this one, and each code works once
        data={"challenge_token": challenge, "code": code(secret, 1), "csrf_token": csrf},
    )
    assert right.status_code == 303
    assert (await browser_client.get("/")).status_code == 200


async def test_setting_up_two_factor_at_sign_in_when_the_agency_requires_it(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    await enrol(client, owner)
    required = await client.put(
        "/v1/auth/agency-policy", json={"require_two_factor": True}, headers=owner.headers
    )
    assert required.status_code == 200
    await invite_and_accept(client, admin_engine, owner, "new@agency.example", "admin")

    step = await sign_in(browser_client, "new@agency.example")
    assert 'action="/login/two-factor/setup"' in step.text
    csrf = hidden_value(step.text, "csrf_token")
    challenge = hidden_value(step.text, "challenge_token")
    setup = await browser_client.post(
        "/login/two-factor/setup", data={"challenge_token": challenge, "csrf_token": csrf}
    )
    assert setup.status_code == 200, setup.text
    assert 'href="otpauth://totp/' in setup.text
    secret = hidden_value(setup.text, "secret")

    confirmed = await browser_client.post(
        "/login/two-factor/confirm",
        data={"challenge_token": challenge, "code": code(secret), "csrf_token": csrf},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert "Your recovery codes" in confirmed.text
    assert confirmed.text.count("<li><code>") >= 8
    assert "chorus_session=" in confirmed.headers["set-cookie"]
    assert (await browser_client.get("/")).status_code == 200
