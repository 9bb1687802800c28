"""Access tokens, refresh tokens and API keys that must not work, tried through the HTTP API.

Each forged credential tries to create a brand: the answer must be 401 with the exact problem
``code`` and ``WWW-Authenticate: Bearer``, and the brand must not exist afterwards. (tests/
test_auth.py already refuses ``alg=none``, a foreign HS256 key and some wrong claims without
pinning the code; here every case pins it. Revoked and mistyped API keys are in
tests/test_api_keys_and_audit.py.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.identity import tokens
from tests.factories import PASSWORD, Tenant, sign_up
from tests.support.world import Actor, build_agency_a, build_agency_b


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(
    header: dict[str, Any],
    claims: dict[str, Any],
    key: bytes | None,
    digest: Callable[[], Any] = hashlib.sha256,
) -> str:
    """A compact JWS built by hand, so any header can be paired with any HMAC signature."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def jwt_key(settings: Settings) -> bytes:
    return tokens._signing_key(settings)


def genuine_claims(settings: Settings, actor: Actor) -> dict[str, Any]:
    """Claims as Chorus issues them, naming the actor's live session."""
    session_id = uuid.UUID(jwt.decode(actor.token, options={"verify_signature": False})["sid"])
    token, _ = tokens.issue_access_token(
        settings, user_id=actor.user_id, agency_id=actor.place.agency_id, session_id=session_id
    )
    return dict(jwt.decode(token, options={"verify_signature": False}))


HS256 = {"alg": "HS256", "typ": "JWT"}
Forge = Callable[[Settings, dict[str, Any]], str]


def _changed(**changes: Any) -> Forge:
    def forge(settings: Settings, claims: dict[str, Any]) -> str:
        return jws(HS256, {**claims, **changes}, jwt_key(settings))

    return forge


def _without(claim: str) -> Forge:
    def forge(settings: Settings, claims: dict[str, Any]) -> str:
        return jws(HS256, {k: v for k, v in claims.items() if k != claim}, jwt_key(settings))

    return forge


def _alg_none(alg: str) -> Forge:
    return lambda settings, claims: jws({"alg": alg, "typ": "JWT"}, claims, None)


def _hs512(settings: Settings, claims: dict[str, Any]) -> str:
    return jws({"alg": "HS512", "typ": "JWT"}, claims, jwt_key(settings), hashlib.sha512)


def _rs256(settings: Settings, claims: dict[str, Any]) -> str:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, private_key, algorithm="RS256")


def _rs256_header_hmac_body(settings: Settings, claims: dict[str, Any]) -> str:
    """Algorithm confusion: claims RS256, carries an HMAC made with the real key."""
    return jws({"alg": "RS256", "typ": "JWT"}, claims, jwt_key(settings))


def _root_secret(settings: Settings, claims: dict[str, Any]) -> str:
    return jws(HS256, claims, settings.secret_key.get_secret_value().encode())


def _invitation_key(settings: Settings, claims: dict[str, Any]) -> str:
    return jws(HS256, claims, tokens.derive_key(settings, "invite.v1"))


def _payload_swapped(settings: Settings, claims: dict[str, Any]) -> str:
    """A genuine signature over other claims: the payload now names another agency."""
    genuine = jws(HS256, claims, jwt_key(settings))
    header, _, signature = genuine.split(".")
    tampered = {**claims, "aid": str(uuid.uuid4())}
    return f"{header}.{_b64(json.dumps(tampered).encode())}.{signature}"


def _signature_stripped(settings: Settings, claims: dict[str, Any]) -> str:
    return jws(HS256, claims, jwt_key(settings)).rsplit(".", 1)[0] + "."


def _expired(settings: Settings, claims: dict[str, Any]) -> str:
    now = int(time.time())
    return jws(HS256, {**claims, "iat": now - 3600, "exp": now - 60}, jwt_key(settings))


def _not_yet_valid(settings: Settings, claims: dict[str, Any]) -> str:
    return jws(HS256, {**claims, "nbf": int(time.time()) + 3600}, jwt_key(settings))


FORGERIES: list[tuple[str, Forge, str]] = [
    ("alg none", _alg_none("none"), "invalid_token"),
    ("alg None", _alg_none("None"), "invalid_token"),
    ("HS512 with the real key", _hs512, "invalid_token"),
    ("RS256 with a stranger's RSA key", _rs256, "invalid_token"),
    ("RS256 header over an HMAC with the real key", _rs256_header_hmac_body, "invalid_token"),
    ("signed with the root secret", _root_secret, "invalid_token"),
    ("signed with the invitation key", _invitation_key, "invalid_token"),
    ("payload changed after signing", _payload_swapped, "invalid_token"),
    ("signature stripped", _signature_stripped, "invalid_token"),
    ("expired", _expired, "token_expired"),
    ("not yet valid", _not_yet_valid, "invalid_token"),
    ("wrong aud", _changed(aud="someone-else"), "invalid_token"),
    ("wrong iss", _changed(iss="evil"), "invalid_token"),
    ("typ refresh", _changed(typ="refresh"), "invalid_token"),
    ("sub not a uuid", _changed(sub="admin"), "invalid_token"),
    ("no exp", _without("exp"), "invalid_token"),
    ("no iat", _without("iat"), "invalid_token"),
    ("no typ", _without("typ"), "invalid_token"),
    ("no sub", _without("sub"), "invalid_token"),
    ("no aid", _without("aid"), "invalid_token"),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assert_refused(
    client: httpx.AsyncClient, owner: Actor | Tenant, credential: str, code: str
) -> None:
    """The credential cannot create a brand: 401 with ``code``, and the owner's brands stay
    as they were."""
    before = await client.get("/v1/brands", headers=owner.headers)
    assert before.status_code == 200, before.text
    response = await client.post(
        "/v1/brands", json={"name": "Made with a bad credential"}, headers=bearer(credential)
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == code
    after = await client.get("/v1/brands", headers=owner.headers)
    assert after.json() == before.json()


async def test_hand_built_tokens_are_accepted_when_nothing_is_wrong(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    """The control for the forgeries below: they fail for their defect, not the builder."""
    owner = (await build_agency_b(admin_engine, settings)).owner
    token = jws(HS256, genuine_claims(settings, owner), jwt_key(settings))
    created = await client.post("/v1/brands", json={"name": "Genuine"}, headers=bearer(token))
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    ("forge", "code"), [pytest.param(f, c, id=name) for name, f, c in FORGERIES]
)
async def test_forged_access_tokens_are_refused(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    forge: Forge,
    code: str,
) -> None:
    owner = (await build_agency_b(admin_engine, settings)).owner
    await assert_refused(client, owner, forge(settings, genuine_claims(settings, owner)), code)


async def test_a_token_for_an_agency_the_user_is_not_in_is_refused(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    agency_a = await build_agency_a(admin_engine, client, settings)
    outsider = (await build_agency_b(admin_engine, settings)).owner
    # Signed with the real key and naming the outsider's live session, of another agency:
    # a session is good for its own agency only.
    claims = {**genuine_claims(settings, outsider), "aid": str(agency_a.agency_id)}
    token = jws(HS256, claims, jwt_key(settings))
    await assert_refused(client, agency_a.actors["owner"], token, "session_revoked")
    brand = await client.get(f"/v1/brands/{agency_a.brand_x}", headers=bearer(token))
    assert brand.status_code == 401
    assert str(agency_a.brand_x) not in brand.text.replace(brand.request.url.path, "")


async def test_a_removed_member_or_deactivated_user_is_refused_at_once(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    world = await build_agency_a(admin_engine, client, settings)
    owner, viewer = world.actors["owner"], world.actors["brand_viewer@X"]
    staff = world.actors["location_staff@L1"]
    for actor in (viewer, staff):
        assert (await client.get("/v1/brands", headers=actor.headers)).status_code == 200

    removed = await client.delete(f"/v1/members/{viewer.membership_id}", headers=owner.headers)
    assert removed.status_code == 204, removed.text
    # removal ended the viewer's sessions in this agency
    await assert_refused(client, owner, viewer.token, "session_revoked")

    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE user_account SET is_active = false WHERE id = :id"), {"id": staff.user_id}
        )
    await assert_refused(client, owner, staff.token, "not_a_member")


async def test_an_access_token_is_not_a_refresh_token(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    response = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.access_token})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_token"
    assert "access_token" not in response.json()
    # Nothing of the login was spent: its real refresh token still rotates.
    genuine = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert genuine.status_code == 200, genuine.text


async def test_a_refresh_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    await assert_refused(client, tenant, tenant.refresh_token, "invalid_token")
    # Tried as a bearer token, the refresh token was not spent either.
    again = await client.post("/v1/auth/refresh", json={"refresh_token": tenant.refresh_token})
    assert again.status_code == 200, again.text


async def _api_key(client: httpx.AsyncClient, owner: Actor) -> dict[str, Any]:
    created = await client.post(
        "/v1/api-keys", json={"name": "CRM sync", "role": "admin"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    key = dict(created.json())
    works = await client.get("/v1/brands", headers=bearer(key["key"]))
    assert works.status_code == 200, works.text
    return key


async def test_an_expired_api_key_is_refused(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    owner = (await build_agency_b(admin_engine, settings)).owner
    key = await _api_key(client, owner)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_key SET expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": key["id"]},
        )
    await assert_refused(client, owner, key["key"], "invalid_api_key")


async def test_refresh_reuse_revokes_the_whole_family(client: httpx.AsyncClient) -> None:
    tenant = await sign_up(client)
    other_login = await client.post(
        "/v1/auth/login", json={"email": tenant.email, "password": PASSWORD}
    )
    assert other_login.status_code == 200, other_login.text

    chain = [tenant.refresh_token]
    for _ in range(3):
        rotated = await client.post("/v1/auth/refresh", json={"refresh_token": chain[-1]})
        assert rotated.status_code == 200, rotated.text
        chain.append(rotated.json()["refresh_token"])
    first, reused, middle, newest = chain

    replay = await client.post("/v1/auth/refresh", json={"refresh_token": reused})
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"
    # Every token of the family is dead, the ones issued after the reused one included.
    for token in (newest, middle, first, reused):
        dead = await client.post("/v1/auth/refresh", json={"refresh_token": token})
        assert dead.status_code == 401, dead.text
        assert dead.json()["code"] == "invalid_token"
    # Another login of the same user is another family: untouched.
    separate = await client.post(
        "/v1/auth/refresh", json={"refresh_token": other_login.json()["refresh_token"]}
    )
    assert separate.status_code == 200, separate.text


async def test_a_well_signed_token_naming_no_live_session_is_refused(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    owner = (await build_agency_b(admin_engine, settings)).owner
    claims = {**genuine_claims(settings, owner), "sid": str(uuid.uuid4())}
    await assert_refused(client, owner, jws(HS256, claims, jwt_key(settings)), "session_revoked")
