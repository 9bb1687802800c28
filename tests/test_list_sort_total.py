"""Paged lists: ``sort`` on the fields people sort by (``-`` descending), pages that follow
the chosen order to the end without a gap or a repeat, ``include=total`` counting what the
same filters match, a cursor only continuing its own sort, and an unknown sort a 422 naming
the ones there are."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from shared.config import Settings
from shared.db import Database
from tests.factories import Tenant, create_brand, create_group, create_location, sign_up
from tests.support.access import invite_and_accept
from tests.support.approvals import approval_world, pending_posts
from tests.support.campaigns import campaign_body, create_campaign, launch_and_fan_out
from tests.support.reviews import open_shop
from tests.support.social_accounts import connect

Item = dict[str, Any]


async def walk(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], *, limit: int = 2
) -> tuple[list[Item], list[int | None]]:
    """Every item of a listing, page by page, and the ``total`` each page answered."""
    items: list[Item] = []
    totals: list[int | None] = []
    cursor: str | None = None
    join = "&" if "?" in url else "?"
    for _ in range(50):
        page_url = f"{url}{join}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(page_url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        totals.append(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, totals
    raise AssertionError("the pages never ended")


def _value(item: Item, field: str) -> Any:
    value = item[field]
    if field.endswith("_at"):
        return datetime.fromisoformat(value)
    return value


def expected(items: list[Item], sort: str) -> list[str]:
    field = sort.removeprefix("-")
    if field == "created":  # the locations' creation order: the time-ordered id
        ordered = sorted(items, key=lambda i: uuid.UUID(i["id"]))
    else:
        ordered = sorted(items, key=lambda i: (_value(i, field), uuid.UUID(i["id"])))
    if sort.startswith("-"):
        ordered.reverse()
    return [i["id"] for i in ordered]


Maker = Callable[[httpx.AsyncClient, Tenant, AsyncEngine], Awaitable[str]]
"""Fills an agency with items of one listing; answers the listing's URL."""


async def _brands(client: httpx.AsyncClient, owner: Tenant, _: AsyncEngine) -> str:
    made = [await create_brand(client, owner, name) for name in ("delta", "alpha", "echo")]
    made += [await create_brand(client, owner, name) for name in ("charlie", "bravo")]
    # a rename moves updated_at away from creation order
    renamed = await client.patch(
        f"/v1/brands/{made[1]['id']}", json={"name": "alpha two"}, headers=owner.headers
    )
    assert renamed.status_code == 200
    return "/v1/brands"


async def _groups(client: httpx.AsyncClient, owner: Tenant, _: AsyncEngine) -> str:
    brand = await create_brand(client, owner)
    other = await create_brand(client, owner)
    for name in ("north", "east", "south", "west", "centre"):
        await create_group(client, owner, brand["id"], name)
    await create_group(client, owner, other["id"], "elsewhere")  # filtered out
    return f"/v1/location-groups?brand_id={brand['id']}"


async def _templates(client: httpx.AsyncClient, owner: Tenant, _: AsyncEngine) -> str:
    brand = await create_brand(client, owner)
    other = await create_brand(client, owner)
    for brand_id, name in [(brand["id"], n) for n in ("menu", "hours", "offer", "event")] + [
        (other["id"], "elsewhere")
    ]:
        response = await client.post(
            "/v1/templates",
            json={"brand_id": brand_id, "name": name, "bodies": {"default": "Hello"}},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
    return f"/v1/templates?brand_id={brand['id']}"


async def _api_keys(client: httpx.AsyncClient, owner: Tenant, _: AsyncEngine) -> str:
    brand = await create_brand(client, owner)
    for name, role in [
        ("sync", "admin"),
        ("crm", "brand_viewer"),
        ("tv", "admin"),
        ("board", "brand_manager"),
    ]:
        scope = {"brand_id": brand["id"]} if role.startswith("brand") else {}
        response = await client.post(
            "/v1/api-keys", json={"name": name, "role": role, **scope}, headers=owner.headers
        )
        assert response.status_code == 201, response.text
    return "/v1/api-keys"


async def _invitations(client: httpx.AsyncClient, owner: Tenant, _: AsyncEngine) -> str:
    brand = await create_brand(client, owner)
    for email, role in [
        ("kim@agency.example", "admin"),
        ("ann@agency.example", "brand_manager"),
        ("lee@agency.example", "admin"),
        ("bob@agency.example", "brand_viewer"),
    ]:
        scope = {"brand_id": brand["id"]} if role.startswith("brand") else {}
        response = await client.post(
            "/v1/invitations", json={"email": email, "role": role, **scope}, headers=owner.headers
        )
        assert response.status_code == 201, response.text
    return "/v1/invitations"


async def _members(client: httpx.AsyncClient, owner: Tenant, engine: AsyncEngine) -> str:
    brand = await create_brand(client, owner)
    tag = uuid.uuid4().hex[:6]
    for who, role in [("kim", "admin"), ("ann", "brand_viewer"), ("lee", "brand_manager")]:
        scope = {"brand_id": brand["id"]} if role.startswith("brand") else {}
        await invite_and_accept(client, engine, owner, f"{who}-{tag}@agency.example", role, **scope)
    return "/v1/members"


async def _social_accounts(client: httpx.AsyncClient, owner: Tenant, _: AsyncEngine) -> str:
    brand = await create_brand(client, owner)
    other = await create_brand(client, owner)
    for brand_id, platforms in ((brand["id"], ("x", "linkedin", "x")), (other["id"], ("x",))):
        for platform in platforms:
            location = await create_location(client, owner, brand_id)
            await connect(client, owner.headers, location["id"], platform)
    return f"/v1/social-accounts?brand_id={brand['id']}"


async def _locations(client: httpx.AsyncClient, owner: Tenant, _: AsyncEngine) -> str:
    brand = await create_brand(client, owner)
    other = await create_brand(client, owner)
    made = [
        await create_location(client, owner, brand["id"], name=name, city=city)
        for name, city in [
            ("downtown", "springfield"),
            ("airport", "shelbyville"),
            ("harbour", "springfield"),
            ("mall", "capital city"),
        ]
    ]
    await create_location(client, owner, other["id"], name="elsewhere")
    moved = await client.patch(
        f"/v1/locations/{made[0]['id']}", json={"city": "ogdenville"}, headers=owner.headers
    )
    assert moved.status_code == 200, moved.text
    return f"/v1/locations?brand_id={brand['id']}"


LISTS: list[tuple[str, Maker, int, list[str]]] = [
    ("locations", _locations, 4, ["created", "name", "city", "updated_at"]),
    ("brands", _brands, 5, ["name", "created_at", "updated_at"]),
    ("location groups", _groups, 5, ["name", "created_at", "updated_at"]),
    ("templates", _templates, 4, ["name", "created_at", "updated_at"]),
    ("api keys", _api_keys, 4, ["created_at", "name", "role"]),
    ("invitations", _invitations, 4, ["created_at", "email", "role", "expires_at"]),
    ("members", _members, 4, ["created_at", "role"]),
    (
        "social accounts",
        _social_accounts,
        3,
        ["created_at", "updated_at", "connected_at", "name", "platform", "status"],
    ),
]


@pytest.mark.parametrize(
    ("maker", "count", "fields"), [x[1:] for x in LISTS], ids=[x[0] for x in LISTS]
)
async def test_each_sort_pages_in_its_order_with_the_total(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    maker: Maker,
    count: int,
    fields: list[str],
) -> None:
    owner = await sign_up(client)
    stranger = await sign_up(client)
    await maker(client, stranger, admin_engine)  # another agency's items count nowhere
    url = await maker(client, owner, admin_engine)
    everything, _ = await walk(client, url, owner.headers, limit=200)
    assert len(everything) == count
    join = "&" if "?" in url else "?"
    for field in fields:
        for sort in (field, f"-{field}"):
            items, totals = await walk(
                client, f"{url}{join}sort={sort}&include=total", owner.headers
            )
            assert [i["id"] for i in items] == expected(everything, sort), sort
            assert totals == [count] * len(totals), sort
    # without include=total there is no count
    _, totals = await walk(client, url, owner.headers)
    assert set(totals) == {None}


@pytest.mark.parametrize("path", ["/v1/brands", "/v1/templates", "/v1/api-keys"])
async def test_a_cursor_only_continues_its_own_sort(client: httpx.AsyncClient, path: str) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner, "one")
    await create_brand(client, owner, "two")
    for name in ("a", "b"):
        await client.post(
            "/v1/templates",
            json={"brand_id": brand["id"], "name": name, "bodies": {"default": "Hi"}},
            headers=owner.headers,
        )
        await client.post(
            "/v1/api-keys", json={"name": name, "role": "admin"}, headers=owner.headers
        )
    first = (await client.get(f"{path}?limit=1&sort=-created_at", headers=owner.headers)).json()
    assert first["next_cursor"]
    other = await client.get(
        f"{path}?limit=1&sort=created_at&cursor={first['next_cursor']}", headers=owner.headers
    )
    assert other.status_code == 400
    assert other.json()["code"] == "invalid_cursor"
    assert "sort" in other.json()["detail"]


async def test_an_unknown_sort_names_the_ones_there_are(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    response = await client.get("/v1/brands?sort=colour", headers=owner.headers)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "query.sort"
    for allowed in ("name", "-name", "created_at", "-updated_at"):
        assert allowed in problem["errors"][0]["message"]


async def test_total_counts_what_the_filters_and_the_reach_match(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    await _groups(client, owner, None)  # type: ignore[arg-type]
    everything = (
        await client.get("/v1/location-groups?include=total&limit=2", headers=owner.headers)
    ).json()
    assert everything["total"] == 6
    assert len(everything["items"]) == 2


_SPEC = create_app(Settings(env="test", log_level="WARNING", log_json=True)).openapi()


def test_the_sortable_lists_document_their_sorts_and_include() -> None:
    for path in (
        "/v1/locations",
        "/v1/brands",
        "/v1/location-groups",
        "/v1/templates",
        "/v1/campaigns",
        "/v1/api-keys",
        "/v1/invitations",
        "/v1/members",
        "/v1/social-accounts",
        "/v1/campaigns/{campaign_id}/posts",
        "/v1/brands/{brand_id}/approvals",
        "/v1/audit-events",
        "/v1/reviews",
        "/v1/locations/{location_id}/posts",
    ):
        parameters = {p["name"]: p for p in _SPEC["paths"][path]["get"]["parameters"]}
        one_order = path.startswith(("/v1/brands/", "/v1/audit", "/v1/reviews"))
        if not one_order:  # the approval queue, the log and reviews stay newest/soonest first
            assert "enum" in parameters["sort"]["schema"], path
        assert "total" in str(parameters["include"]["schema"]), path


async def test_campaigns_and_a_campaigns_posts(
    client: httpx.AsyncClient,
    worker_ctx: dict[str, Any],
    chain: dict[str, Any],
) -> None:
    owner: Tenant = chain["owner"]
    brand_id, template_id = chain["brand"]["id"], chain["template_id"]
    made = [
        await create_campaign(
            client, owner.headers, campaign_body(brand_id, template_id, name=name)
        )
        for name in ("summer", "autumn", "winter")
    ]
    await launch_and_fan_out(client, owner.headers, made[0], worker_ctx, owner.agency_id)
    campaigns, _ = await walk(client, "/v1/campaigns", owner.headers, limit=200)
    for field in ("created_at", "updated_at", "name", "status"):
        for sort in (field, f"-{field}"):
            items, totals = await walk(
                client, f"/v1/campaigns?sort={sort}&include=total", owner.headers
            )
            assert [i["id"] for i in items] == expected(campaigns, sort), sort
            assert set(totals) == {3}
    drafts, totals = await walk(client, "/v1/campaigns?status=draft&include=total", owner.headers)
    assert len(drafts) == 2
    assert set(totals) == {2}

    url = f"/v1/campaigns/{made[0]['id']}/posts"
    posts, _ = await walk(client, url, owner.headers, limit=200)
    assert len(posts) == 6  # three locations x two channels
    for field in ("created_at", "updated_at", "status", "platform"):
        for sort in (field, f"-{field}"):
            items, totals = await walk(client, f"{url}?sort={sort}&include=total", owner.headers)
            assert [i["id"] for i in items] == expected(posts, sort), sort
            assert set(totals) == {6}
    _, totals = await walk(client, f"{url}?status=skipped&include=total", owner.headers)
    assert set(totals) == {3}


async def test_the_audit_log_and_a_locations_events_count(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    stranger = await sign_up(client)
    await create_brand(client, stranger)
    brands = [await create_brand(client, owner) for _ in range(3)]
    location = await create_location(client, owner, brands[0]["id"])
    everything, totals = await walk(client, "/v1/audit-events?include=total", owner.headers)
    assert len(everything) >= 4  # the sign-up's own events too
    assert set(totals) == {len(everything)}
    _, totals = await walk(
        client, "/v1/audit-events?action=brand.create&include=total", owner.headers
    )
    assert set(totals) == {3}
    events = await client.get(
        f"/v1/locations/{location['id']}/events?include=total", headers=owner.headers
    )
    assert events.status_code == 200
    assert events.json()["total"] == len(events.json()["items"]) == 0


async def test_the_approval_queues_count(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await approval_world(client, admin_engine)
    await pending_posts(client, w, platforms=("facebook", "x"))
    await pending_posts(client, w, location=w.boston)
    url = f"/v1/brands/{w.brand['id']}/approvals?include=total"
    items, totals = await walk(client, url, w.h(w.brand_manager))
    assert len(items) == 3
    assert set(totals) == {3}
    _, totals = await walk(client, f"{url}&platform=x", w.h(w.brand_manager))
    assert set(totals) == {1}
    mine = await client.get(
        f"/v1/locations/{w.nyc['id']}/approvals?include=total", headers=w.h(w.manager)
    )
    assert mine.status_code == 200
    assert mine.json()["total"] == 0  # the brand's to approve, not the location's to confirm


async def test_reviews_and_what_needs_attention_count(
    client: httpx.AsyncClient,
    app_db: Database,
    redis: Redis,
    settings: Settings,
    sandbox: httpx.AsyncClient,
) -> None:
    shop = await open_shop(client, app_db, redis, settings)
    everything, totals = await walk(client, "/v1/reviews?include=total", shop.owner.headers)
    assert len(everything) > 2
    assert set(totals) == {len(everything)}
    low = [r for r in everything if r["rating"] is not None and r["rating"] <= 2]
    _, totals = await walk(client, "/v1/reviews?max_rating=2&include=total", shop.owner.headers)
    assert set(totals) == {len(low)}
    url = f"/v1/locations/{shop.location['id']}/reviews/needs-attention?include=total"
    waiting, totals = await walk(client, url, shop.owner.headers)
    assert set(totals) == {len(waiting)}
    assert waiting  # the sandbox's shop has unanswered negative reviews


async def test_a_locations_posts(client: httpx.AsyncClient, admin_engine: AsyncEngine) -> None:
    w = await approval_world(client, admin_engine)
    await pending_posts(client, w, platforms=("facebook", "x"))
    await pending_posts(client, w, platforms=("x",))
    await pending_posts(client, w, location=w.boston)  # another location's
    url = f"/v1/locations/{w.nyc['id']}/posts"
    posts, _ = await walk(client, url, w.owner.headers, limit=200)
    assert len(posts) == 3
    for field in ("created_at", "updated_at", "status", "platform"):
        for sort in (field, f"-{field}"):
            items, totals = await walk(client, f"{url}?sort={sort}&include=total", w.owner.headers)
            assert [i["id"] for i in items] == expected(posts, sort), sort
            assert set(totals) == {3}
