from __future__ import annotations

import time

import httpx
import jwt
import pytest

from shared.config import Settings
from tests.factories import PASSWORD, sign_up
from tests.support.clock import TestClock


async def test_signup_then_login_gives_working_tokens(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client, agency_name="Northwind", email="Ada@Northwind.example")

    login = await client.post(
        "/v1/auth/login", json={"email": "ada@northwind.example", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["agency_id"] == str(tenant.agency_id)
    brands = await client.get(
        "/v1/brands", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert brands.status_code == 200


async def test_signup_rejects_duplicate_email_and_weak_password(client: httpx.AsyncClient) -> None:
    await sign_up(client, email="dup@agency.example")
    again = await client.post(
        "/v1/auth/signup",
        json={
            "agency_name": "Other",
            "full_name": "X",
            "email": "DUP@agency.example",
            "password": PASSWORD,
        },
    )
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"

    weak = await client.post(
        "/v1/auth/signup",
        json={
            "agency_name": "W",
            "full_name": "W",
            "email": "w@agency.example",
            "password": "short",
        },
    )
    assert weak.status_code == 422
    assert weak.headers["content-type"].startswith("application/problem+json")
    assert weak.json()["errors"][0]["field"] == "body.password"
    assert "12 characters" in weak.json()["detail"]


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    wrong = await client.post(
        "/v1/auth/login", json={"email": tenant.email, "password": "nope" * 4}
    )
    unknown = await client.post(
        "/v1/auth/login", json={"email": "ghost@agency.example", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    first = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != tenant.refresh_token

    reused = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"

    # The thief's reuse also ended the legitimate holder's session.
    after = await client.post("/v1/auth/refresh", json={"refresh_token": rotated})
    assert after.status_code == 401


async def test_tokens_stop_working_when_they_expire_even_once_checked_and_cached(
    client: httpx.AsyncClient, settings: Settings, clock: TestClock
) -> None:
    """Expiry is checked on every use, not only the first (the API caches a token's verified
    claims). Time passes by moving the clock, not by waiting the token's life out."""
    tenant = await sign_up(client)
    assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200
    clock.advance(settings.access_token_ttl_seconds - 60)
    assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200
    clock.advance(60 + 6)  # past the expiry and the 5 s leeway for other servers' clocks
    late = await client.get("/v1/brands", headers=tenant.headers)
    assert late.status_code == 401
    assert late.json()["code"] == "token_expired"

    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    fresh = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await client.get("/v1/brands", headers=fresh)).status_code == 200
    clock.advance(settings.refresh_token_ttl_days * 86_400)
    gone = await client.post(
        "/v1/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}
    )
    assert gone.status_code == 401
    assert gone.json()["code"] == "token_expired"


async def test_logout_revokes_refresh_token(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    out = await client.post("/v1/auth/logout", json={"refresh_token": tenant.refresh_token})
    assert out.status_code == 204
    again = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert again.status_code == 401


async def test_requests_without_or_with_bad_tokens_are_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    tenant = await sign_up(client)
    missing = await client.get("/v1/brands")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["code"] == "missing_token"

    garbage = await client.get("/v1/brands", headers={"Authorization": "Bearer not-a-jwt"})
    assert garbage.json()["code"] == "invalid_token"

    claims = jwt.decode(tenant.access_token, options={"verify_signature": False})
    forged_none = jwt.encode(claims, key="", algorithm="none")
    assert (
        await client.get("/v1/brands", headers={"Authorization": f"Bearer {forged_none}"})
    ).status_code == 401

    wrong_key = jwt.encode(claims, "another-secret-key-of-enough-length-123", algorithm="HS256")
    assert (
        await client.get("/v1/brands", headers={"Authorization": f"Bearer {wrong_key}"})
    ).status_code == 401


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "someone-else"), ("iss", "evil"), ("typ", "refresh"), ("exp", 1)],
)
async def test_tokens_with_wrong_claims_are_refused(
    client: httpx.AsyncClient, settings: Settings, claim: str, value: object
) -> None:
    from shared.identity.tokens import _signing_key

    tenant = await sign_up(client)
    claims = jwt.decode(tenant.access_token, options={"verify_signature": False})
    claims[claim] = value
    token = jwt.encode(claims, _signing_key(settings), algorithm="HS256")
    response = await client.get("/v1/brands", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["code"] in {"invalid_token", "token_expired"}


async def test_access_token_claims_are_pinned(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    tenant = await sign_up(client)
    header = jwt.get_unverified_header(tenant.access_token)
    claims = jwt.decode(tenant.access_token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert claims["iss"] == settings.jwt_issuer
    assert claims["aud"] == settings.jwt_audience
    assert claims["typ"] == "access"
    assert claims["aid"] == str(tenant.agency_id)
    assert 0 < claims["exp"] - time.time() <= settings.access_token_ttl_seconds + 5
