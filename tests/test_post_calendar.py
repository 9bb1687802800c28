"""The calendar: a brand's posts (or a group's, a location's, a campaign's) by time, filtered
by range, platform and status, one page at a time, with totals by status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Tenant, create_brand, create_group, create_location, sign_up
from tests.support.access import bearer, invite_and_accept

BODY = "Hello {{ location.city }}! {{ slot.offer }}"
BASE = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


class World:
    owner: Tenant
    other: Tenant
    brand: dict[str, Any]
    other_brand: dict[str, Any]
    nyc: dict[str, Any]
    boston: dict[str, Any]
    group: dict[str, Any]
    manager: dict[str, str]
    template_id: str
    posts: dict[str, dict[str, Any]]


async def _template(client: httpx.AsyncClient, owner: Tenant, brand_id: str) -> str:
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": "Daily",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 40}},
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["template_id"])
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200
    return template_id


async def _post(
    client: httpx.AsyncClient,
    owner: Tenant,
    template_id: str,
    location: dict[str, Any],
    platforms: list[str],
    hours: int,
) -> list[dict[str, Any]]:
    made = await client.post(
        f"/v1/locations/{location['id']}/posts",
        json={
            "template_id": template_id,
            "version": 1,
            "platforms": platforms,
            "slot_values": {"offer": f"in {hours} h"},
            "scheduled_at": (BASE + timedelta(hours=hours)).isoformat(),
        },
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    return list(made.json())


@pytest.fixture
async def w(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> World:
    world = World()
    world.owner = await sign_up(client)
    world.other = await sign_up(client)
    world.brand = await create_brand(client, world.owner)
    world.other_brand = await create_brand(client, world.owner)
    world.nyc = await create_location(client, world.owner, world.brand["id"], city="New York")
    world.boston = await create_location(client, world.owner, world.brand["id"], city="Boston")
    world.group = await create_group(client, world.owner, world.brand["id"], "East")
    added = await client.post(
        f"/v1/location-groups/{world.group['id']}/members",
        json={"location_ids": [world.nyc["id"]]},
        headers=world.owner.headers,
    )
    assert added.status_code == 200, added.text
    world.manager = await invite_and_accept(
        client,
        admin_engine,
        world.owner,
        "lm-calendar@agency.example",
        "location_manager",
        location_id=world.nyc["id"],
    )
    world.template_id = await _template(client, world.owner, world.brand["id"])
    posts: dict[str, dict[str, Any]] = {}
    # Made out of time order on purpose: the calendar orders by time, not by creation.
    for name, location, platforms, hours in [
        ("nyc_late", world.nyc, ["x"], 30),
        ("boston_early", world.boston, ["x", "facebook"], 1),
        ("nyc_early", world.nyc, ["facebook"], 2),
        ("boston_mid", world.boston, ["x"], 10),
        ("nyc_mid", world.nyc, ["x", "facebook"], 5),
    ]:
        for p in await _post(client, world.owner, world.template_id, location, platforms, hours):
            posts[f"{name}_{p['platform']}"] = p
    cancelled = await client.post(
        f"/v1/posts/{posts['nyc_mid_facebook']['id']}/cancel", headers=world.owner.headers
    )
    assert cancelled.status_code == 200
    # Another brand of the same agency, at the same times: never in this brand's calendar.
    other_location = await create_location(client, world.owner, world.other_brand["id"])
    other_template = await _template(client, world.owner, world.other_brand["id"])
    await _post(client, world.owner, other_template, other_location, ["x"], 3)
    world.posts = posts
    return world


async def calendar(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    answer = await client.get("/v1/posts", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def names(w: World, items: list[dict[str, Any]]) -> list[str]:
    by_id = {p["id"]: name for name, p in w.posts.items()}
    return [by_id[i["id"]] for i in items]


async def test_a_brand_calendar_in_time_order_page_by_page_with_totals(
    client: httpx.AsyncClient, w: World
) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"brand_id": w.brand["id"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = await calendar(client, w.owner.headers, **params)
        pages += 1
        assert page["totals"] == {"scheduled": 6, "cancelled": 1}
        assert page["total"] == 7
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    times = [datetime.fromisoformat(p["scheduled_at"]) for p in seen]
    assert times == sorted(times)
    assert len({p["id"] for p in seen}) == 7
    assert names(w, seen)[-1] == "nyc_late_x"
    assert set(names(w, seen)[:2]) == {"boston_early_x", "boston_early_facebook"}


async def test_filters_narrow_the_list_and_the_totals(client: httpx.AsyncClient, w: World) -> None:
    h = w.owner.headers
    brand = w.brand["id"]
    by_location = await calendar(client, h, brand_id=brand, location_id=w.nyc["id"])
    assert names(w, by_location["items"]) == [
        "nyc_early_facebook",
        *sorted(["nyc_mid_x", "nyc_mid_facebook"], key=lambda n: w.posts[n]["id"]),
        "nyc_late_x",
    ]
    assert by_location["totals"] == {"scheduled": 3, "cancelled": 1}
    by_group = await calendar(client, h, group_id=w.group["id"])
    assert sorted(names(w, by_group["items"])) == sorted(names(w, by_location["items"]))
    x_only = await calendar(client, h, brand_id=brand, platform="x")
    assert {w.posts[n]["platform"] for n in names(w, x_only["items"])} == {"x"}
    assert x_only["total"] == 4
    both = await calendar(client, h, brand_id=brand, platform=["x", "facebook"])
    assert both["total"] == 7
    cancelled = await calendar(client, h, brand_id=brand, status="cancelled")
    assert names(w, cancelled["items"]) == ["nyc_mid_facebook"]
    assert cancelled["totals"] == {"cancelled": 1}
    ranged = await calendar(
        client,
        h,
        brand_id=brand,
        **{
            "from": (BASE + timedelta(hours=2)).isoformat(),
            "to": (BASE + timedelta(hours=10)).isoformat(),
        },
    )
    # `from` included, `to` excluded.
    assert sorted(names(w, ranged["items"])) == sorted(
        ["nyc_early_facebook", "nyc_mid_x", "nyc_mid_facebook"]
    )
    assert ranged["totals"] == {"scheduled": 2, "cancelled": 1}
    day = await calendar(
        client, h, brand_id=brand, **{"from": (BASE + timedelta(days=1)).date().isoformat()}
    )
    assert names(w, day["items"]) == ["nyc_late_x"]
    nothing = await calendar(
        client, h, brand_id=brand, campaign_id="00000000-0000-0000-0000-000000000000"
    )
    assert nothing == {"items": [], "next_cursor": None, "totals": {}, "total": 0}
    everything = await calendar(client, h)
    assert everything["total"] == 8  # both brands of the agency


async def test_each_sees_only_their_part(client: httpx.AsyncClient, w: World) -> None:
    manager = bearer(w.manager["access_token"])
    own = await calendar(client, manager, brand_id=w.brand["id"])
    assert {w.posts[n]["location_id"] for n in names(w, own["items"])} == {w.nyc["id"]}
    assert own["total"] == 4
    sibling = await client.get("/v1/posts", params={"location_id": w.boston["id"]}, headers=manager)
    assert sibling.status_code == 404
    foreign = await client.get(
        "/v1/posts", params={"brand_id": w.brand["id"]}, headers=w.other.headers
    )
    assert foreign.status_code == 404
    assert await calendar(client, w.other.headers) == {
        "items": [],
        "next_cursor": None,
        "totals": {},
        "total": 0,
    }


async def test_bad_queries_are_answered_clearly(client: httpx.AsyncClient, w: World) -> None:
    h = w.owner.headers
    bad_cursor = await client.get("/v1/posts", params={"cursor": "nonsense"}, headers=h)
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "invalid_cursor"
    backwards = await client.get(
        "/v1/posts",
        params={"from": BASE.isoformat(), "to": (BASE - timedelta(hours=1)).isoformat()},
        headers=h,
    )
    assert backwards.status_code == 422
    unknown = await client.get("/v1/posts", params={"status": "lost"}, headers=h)
    assert unknown.status_code == 422
