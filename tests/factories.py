"""Factories as plain functions, going through the public API the way a user would."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Tenant:
    agency_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_up(
    client: httpx.AsyncClient, *, agency_name: str | None = None, email: str | None = None
) -> Tenant:
    n = next(_counter)
    email = email or f"owner{n}-{uuid.uuid4().hex[:6]}@agency.example"
    response = await client.post(
        "/v1/auth/signup",
        json={
            "agency_name": agency_name or f"Agency {n}",
            "full_name": f"Owner {n}",
            "email": email,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Tenant(
        agency_id=uuid.UUID(body["agency_id"]),
        user_id=uuid.UUID(body["user_id"]),
        email=email,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )


async def create_brand(
    client: httpx.AsyncClient, tenant: Tenant, name: str | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/brands", json={"name": name or f"Brand {next(_counter)}"}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def location_body(brand_id: str, **fields: Any) -> dict[str, Any]:
    n = next(_counter)
    body: dict[str, Any] = {
        "brand_id": brand_id,
        "name": f"Location {n:05d}",
        "city": "Springfield",
        "country": "US",
        "time_zone": "America/Chicago",
    }
    body.update(fields)
    return body


async def create_location(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/locations", json=location_body(brand_id, **fields), headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_group(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, name: str | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/location-groups",
        json={"brand_id": brand_id, "name": name or f"Group {next(_counter)}"},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())
