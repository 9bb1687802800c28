"""A location's people read their brand's campaigns, but a campaign's audience must not name
the brand's other locations to them (issue #13): they see only their own location(s) and the
groups those are in; the brand's people keep seeing the whole audience."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.context import WorkerContext
from services.worker.jobs import campaigns as campaign_jobs
from shared.config import Settings
from shared.db import Database
from tests.factories import Tenant, create_brand, create_group, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.campaigns import campaign_body, create_campaign, publish_template
from tests.support.social_accounts import connect


@pytest.fixture
async def worker_ctx(app: FastAPI, settings: Settings, app_db: Database) -> dict[str, Any]:
    ctx: dict[str, Any] = {"redis": app.state.redis}
    WorkerContext(settings=settings, db=app_db, redis=app.state.redis).install(ctx)
    return ctx


async def _invite(
    client: httpx.AsyncClient, engine: AsyncEngine, owner: Tenant, role: str, **scope: str
) -> dict[str, str]:
    email = f"{role}-{uuid.uuid4().hex[:6]}@franchise.example"
    accepted = await invite_and_accept(client, engine, owner, email, role, **scope)
    return bearer(accepted["access_token"])


async def _add_members(
    client: httpx.AsyncClient, owner: Tenant, group_id: str, *location_ids: str
) -> None:
    added = await client.post(
        f"/v1/location-groups/{group_id}/members",
        json={"location_ids": list(location_ids)},
        headers=owner.headers,
    )
    assert added.status_code == 200, added.text


@pytest.fixture
async def brand(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> dict[str, Any]:
    """NYC, Boston and Chicago; group "East" = Boston + Chicago, group "Mine" = NYC + Boston;
    three campaigns, one per kind of audience that holds ids."""
    owner = await sign_up(client)
    b = await create_brand(client, owner)
    nyc = await create_location(client, owner, b["id"], city="New York")
    boston = await create_location(client, owner, b["id"], city="Boston")
    chicago = await create_location(client, owner, b["id"], city="Chicago")
    east = await create_group(client, owner, b["id"], "East")
    mine = await create_group(client, owner, b["id"], "Mine")
    await _add_members(client, owner, east["id"], boston["id"], chicago["id"])
    await _add_members(client, owner, mine["id"], nyc["id"], boston["id"])
    template_id = await publish_template(client, owner, b["id"])
    ids = [nyc["id"], boston["id"], chicago["id"]]
    audiences = {
        "locations": {"kind": "locations", "location_ids": ids},
        "groups": {"kind": "groups", "group_ids": [east["id"], mine["id"]]},
        "filter": {"kind": "filter", "filter": {"country": "US", "group_id": east["id"]}},
    }
    campaigns = {
        kind: await create_campaign(
            client, owner.headers, campaign_body(b["id"], template_id, name=kind, audience=aud)
        )
        for kind, aud in audiences.items()
    }
    return {
        "owner": owner,
        "brand": b,
        "nyc": nyc,
        "boston": boston,
        "chicago": chicago,
        "east": east,
        "mine": mine,
        "campaigns": campaigns,
    }


async def _seen(
    client: httpx.AsyncClient, headers: dict[str, str], campaigns: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    out = {}
    for kind, campaign in campaigns.items():
        got = await client.get(f"/v1/campaigns/{campaign['id']}", headers=headers)
        assert got.status_code == 200, got.text
        out[kind] = got.json()["audience"]
    return out


@pytest.mark.parametrize("role", ["location_manager", "location_staff"])
async def test_location_people_see_only_their_own_location_in_audiences(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, brand: dict[str, Any], role: str
) -> None:
    w = brand
    person = await _invite(client, admin_engine, w["owner"], role, location_id=w["nyc"]["id"])
    seen = await _seen(client, person, w["campaigns"])
    assert seen["locations"]["location_ids"] == [w["nyc"]["id"]]
    assert seen["groups"]["group_ids"] == [w["mine"]["id"]]
    assert seen["filter"]["filter"]["country"] == "US"
    assert seen["filter"]["filter"]["group_id"] is None
    listed = await client.get(
        "/v1/campaigns", params={"brand_id": w["brand"]["id"]}, headers=person
    )
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 3
    hidden = (w["boston"]["id"], w["chicago"]["id"], w["east"]["id"])
    for answer in (listed.text, *[str(a) for a in seen.values()]):
        for other in hidden:
            assert other not in answer


async def test_brand_people_see_the_whole_audience(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, brand: dict[str, Any]
) -> None:
    w = brand
    ids = [w["nyc"]["id"], w["boston"]["id"], w["chicago"]["id"]]
    viewer = await _invite(
        client, admin_engine, w["owner"], "brand_viewer", brand_id=w["brand"]["id"]
    )
    for headers in (w["owner"].headers, viewer):
        seen = await _seen(client, headers, w["campaigns"])
        assert seen["locations"]["location_ids"] == ids
        assert seen["groups"]["group_ids"] == [w["east"]["id"], w["mine"]["id"]]
        assert seen["filter"]["filter"]["group_id"] == w["east"]["id"]
        listed = (await client.get("/v1/campaigns", headers=headers)).json()["items"]
        assert {c["name"]: c["audience"] for c in listed}["locations"]["location_ids"] == ids
    outsider = await sign_up(client)
    for campaign in w["campaigns"].values():
        foreign = await client.get(f"/v1/campaigns/{campaign['id']}", headers=outsider.headers)
        assert foreign.status_code == 404
        assert w["nyc"]["id"] not in foreign.text


async def test_location_people_count_only_their_own_posts(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    brand: dict[str, Any],
) -> None:
    w = brand
    owner: Tenant = w["owner"]
    await connect(client, owner.headers, w["nyc"]["id"], "facebook")
    campaign = w["campaigns"]["locations"]
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers)
    assert launched.status_code == 202, launched.text
    await campaign_jobs.fan_out(worker_ctx, str(owner.agency_id), campaign["id"])
    person = await _invite(
        client, admin_engine, owner, "location_manager", location_id=w["nyc"]["id"]
    )
    mine = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=person)).json()
    assert mine["posts_by_status"] == {"scheduled": 1, "skipped": 1}
    assert mine["skipped_by_reason"] == {"no connected account": 1}
    whole = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)).json()
    assert whole["posts_by_status"] == {"scheduled": 1, "skipped": 5}
