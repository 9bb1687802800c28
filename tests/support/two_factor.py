"""Enrol a user in two-factor sign-in and compute their codes."""

from __future__ import annotations

import time

import httpx

from shared.identity import totp
from tests.factories import Tenant


def code(secret: str, steps_ahead: int = 0) -> str:
    return totp.code_at(secret, time.time() + steps_ahead * totp.STEP_SECONDS)


async def enrol(client: httpx.AsyncClient, tenant: Tenant) -> tuple[str, list[str]]:
    setup = await client.post("/v1/auth/two-factor/setup", headers=tenant.headers)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    confirmed = await client.post(
        "/v1/auth/two-factor/confirm", json={"code": code(secret)}, headers=tenant.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]
