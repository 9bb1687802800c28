"""A brand's head office for the templates and brand rules pages (issue #16): an owner, a
brand with two locations (Springfield and Shelbyville), a brand manager and a brand viewer of
that brand, and another agency with a template of its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.access import invite_and_accept

BODY = "Fresh pizza in {{ location.city }}! {{ slot.offer }} #pizza"
SLOTS: dict[str, Any] = {
    "offer": {"label": "Today's offer", "max_length": 40, "default": "Two for one"},
}


@dataclass
class Office:
    owner: Tenant
    brand: dict[str, Any]
    springfield: dict[str, Any]
    shelbyville: dict[str, Any]
    manager_email: str
    viewer_email: str
    other: Tenant
    other_template_id: str


async def create_template(
    client: httpx.AsyncClient,
    owner: Tenant,
    brand_id: str,
    name: str,
    bodies: dict[str, str] | None = None,
    *,
    publish: bool = False,
    slots: dict[str, Any] | None = None,
) -> str:
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": name,
            "bodies": bodies or {"default": BODY},
            "slots": SLOTS if slots is None else slots,
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["id"])
    if publish:
        done = await client.post(
            f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
        )
        assert done.status_code == 200, done.text
    return template_id


async def head_office(client: httpx.AsyncClient, engine: AsyncEngine) -> Office:
    owner = await sign_up(client)
    brand = await create_brand(client, owner, "Luigi's")
    springfield = await create_location(
        client, owner, brand["id"], name="Luigi's Springfield", city="Springfield"
    )
    shelbyville = await create_location(
        client, owner, brand["id"], name="Luigi's Shelbyville", city="Shelbyville"
    )
    tag = uuid.uuid4().hex[:8]
    manager_email = f"bm-{tag}@example.com"
    viewer_email = f"bv-{tag}@example.com"
    await invite_and_accept(
        client, engine, owner, manager_email, "brand_manager", brand_id=brand["id"]
    )
    await invite_and_accept(
        client, engine, owner, viewer_email, "brand_viewer", brand_id=brand["id"]
    )
    other = await sign_up(client)
    other_brand = await create_brand(client, other, "Elsewhere")
    other_template_id = await create_template(client, other, other_brand["id"], "Theirs")
    return Office(
        owner=owner,
        brand=brand,
        springfield=springfield,
        shelbyville=shelbyville,
        manager_email=manager_email,
        viewer_email=viewer_email,
        other=other,
        other_template_id=other_template_id,
    )
