"""Campaign fixtures and helpers: a chain of locations, templates, campaigns and their
fan-out. Registered as a pytest plugin in tests/conftest.py."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.worker.context import WorkerContext
from services.worker.jobs import campaigns as campaign_jobs
from shared.config import Settings
from shared.db import Database
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.social_accounts import connect

BODY = "Pizza week in {{ location.city }}: {{ campaign.offer }} #SliceAndCo"
AT = "2030-06-03T16:00:00+00:00"


async def publish_template(
    client: httpx.AsyncClient,
    owner: Tenant,
    brand_id: str,
    body: str = BODY,
    slots: dict[str, Any] | None = None,
) -> str:
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": f"Template {uuid.uuid4().hex[:6]}",
            "bodies": {"default": body},
            "slots": slots or {},
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["template_id"])
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    return template_id


def campaign_body(brand_id: str, template_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Pizza week",
        "brand_id": brand_id,
        "template_id": template_id,
        "version": 1,
        "audience": {"kind": "all"},
        "channels": ["facebook", "x"],
        "schedule": {"kind": "absolute", "at": AT},
        "variables": {"offer": "2 for 1"},
    }
    body.update(fields)
    return body


async def create_campaign(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    created = await client.post("/v1/campaigns", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.fixture
async def worker_ctx(app: FastAPI, settings: Settings, app_db: Database) -> dict[str, Any]:
    ctx: dict[str, Any] = {"redis": app.state.redis}
    WorkerContext(settings=settings, db=app_db, redis=app.state.redis).install(ctx)
    return ctx


async def launch_and_fan_out(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    campaign: dict[str, Any],
    worker_ctx: dict[str, Any],
    agency_id: uuid.UUID,
) -> dict[str, Any]:
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=headers)
    assert launched.status_code == 202, launched.text
    assert launched.json()["status"] == "launching"
    result = await campaign_jobs.fan_out(worker_ctx, str(agency_id), campaign["id"])
    assert result["status"] in ("running", "completed"), result
    detail = await client.get(f"/v1/campaigns/{campaign['id']}", headers=headers)
    assert detail.status_code == 200
    return dict(detail.json())


async def all_posts(
    client: httpx.AsyncClient, headers: dict[str, str], campaign_id: str, **params: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/v1/campaigns/{campaign_id}/posts", params=query, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
async def chain(client: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> dict[str, Any]:
    """A brand with three active locations and one paused; New York has Facebook and X
    connected, Boston only Facebook, Chicago nothing."""
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    nyc = await create_location(client, owner, brand["id"], city="New York")
    boston = await create_location(client, owner, brand["id"], city="Boston")
    chicago = await create_location(client, owner, brand["id"], city="Chicago")
    paused = await create_location(client, owner, brand["id"], city="Austin", status="paused")
    accounts = {
        (nyc["id"], "facebook"): await connect(client, owner.headers, nyc["id"], "facebook"),
        (nyc["id"], "x"): await connect(client, owner.headers, nyc["id"], "x"),
        (boston["id"], "facebook"): await connect(client, owner.headers, boston["id"], "facebook"),
    }
    template_id = await publish_template(client, owner, brand["id"])
    return {
        "owner": owner,
        "brand": brand,
        "nyc": nyc,
        "boston": boston,
        "chicago": chicago,
        "paused": paused,
        "accounts": accounts,
        "template_id": template_id,
    }
