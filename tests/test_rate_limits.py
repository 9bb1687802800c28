from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from services.api.app import create_app
from shared.config import Settings
from tests.factories import PASSWORD, sign_up


async def test_login_is_limited_per_account_with_retry_after(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    statuses = []
    for _ in range(11):
        response = await client.post(
            "/v1/auth/login", json={"email": tenant.email, "password": "wrong password!"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == "rate_limited"
    # Even the right password waits: the limit is per account, not per guess.
    right = await client.post("/v1/auth/login", json={"email": tenant.email, "password": PASSWORD})
    assert right.status_code == 429


@pytest.fixture
async def tight_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    tight = settings.model_copy(
        update={
            "rate_limit_agency_requests": "3/minute",
            "rate_limit_login_per_address": "2/minute",
        }
    )
    app = create_app(tight)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as c:
            yield c


async def test_agency_request_limit_and_per_address_login_limit(
    tight_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    busy = await sign_up(client)
    calm = await sign_up(client)
    codes = [
        (await tight_client.get("/v1/brands", headers=busy.headers)).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    # Another agency has its own budget.
    assert (await tight_client.get("/v1/brands", headers=calm.headers)).status_code == 200

    a = await tight_client.post("/v1/auth/login", json={"email": busy.email, "password": PASSWORD})
    b = await tight_client.post("/v1/auth/login", json={"email": calm.email, "password": PASSWORD})
    c = await tight_client.post("/v1/auth/login", json={"email": calm.email, "password": PASSWORD})
    assert (a.status_code, b.status_code, c.status_code) == (200, 200, 429)


async def test_refresh_is_limited_per_account(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    tight = settings.model_copy(update={"rate_limit_refresh_per_account": "2/minute"})
    app = create_app(tight)
    tenant = await sign_up(client)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as c:
            token = tenant.refresh_token
            statuses = []
            for _ in range(3):
                response = await c.post("/v1/auth/refresh", json={"refresh_token": token})
                statuses.append(response.status_code)
                if response.status_code == 200:
                    token = response.json()["refresh_token"]
    assert statuses == [200, 200, 429]
    assert response.json()["code"] == "rate_limited"
