"""Plan limits, table-driven from the plan table itself (``shared.billing.plans``): for every
plan, every gated feature, every channel and the location limit are exercised through the API.
Below the plan: 402 with the code naming what is missing; at or above: 2xx.

Which API operation exercises a feature is written down once (``FEATURE_EXERCISES``); a feature
added to the table without an exercise (or a reason it has none) fails
``test_every_feature_in_the_plan_table_is_exercised``, and a new field on ``Plan`` fails
``test_every_plan_field_is_classified`` until it is either exercised here or said not to be a
gate. Channels come from the platforms themselves, so a new platform is covered unasked.

The agency's plan is set straight in ``billing_account`` (as tests/test_billing.py does for
states Stripe would take a while to reach); everything the plan is asked about goes through
the API."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.billing.plans import PLAN_ORDER, PLANS, Feature, Plan
from shared.content.platforms import PLATFORMS
from shared.ids import new_id
from shared.locations.models import Location
from tests.factories import Tenant, create_brand, create_location, sign_up

ROOT = Path(__file__).resolve().parent.parent
AT = "2030-06-03T16:00:00+00:00"
IMAGE = {
    "kind": "image",
    "url": "https://cdn.example.com/pizza.jpg",
    "width": 1080,
    "height": 1080,
    "size_bytes": 200_000,
}
VIDEO = {
    "kind": "video",
    "url": "https://cdn.example.com/pizza.mp4",
    "width": 1080,
    "height": 1920,
    "duration_seconds": 30,
    "size_bytes": 5_000_000,
    "cover_url": "https://cdn.example.com/pizza.jpg",
}
"""Media every platform takes, so that a post on any channel the plan has is accepted."""


@dataclass(frozen=True)
class Shop:
    """One agency with what every exercise needs, built on its sign-up trial (every feature),
    before the plan under test is set."""

    owner: Tenant
    brand_id: str
    location_id: str
    template_id: str
    api_key: str


async def _publish_template(client: httpx.AsyncClient, owner: Tenant, brand_id: str) -> str:
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": f"Template {uuid.uuid4().hex[:6]}",
            "bodies": {"default": "Hello {{ location.city }}"},
            "titles": {"default": "Hello"},
            "slots": {},
            "media": {"default": [IMAGE], "tiktok": [VIDEO], "youtube": [VIDEO]},
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


async def build_shop(client: httpx.AsyncClient) -> Shop:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    key = await client.post(
        "/v1/api-keys", json={"name": "CRM", "role": "admin"}, headers=owner.headers
    )
    assert key.status_code == 201, key.text
    return Shop(
        owner=owner,
        brand_id=brand["id"],
        location_id=location["id"],
        template_id=await _publish_template(client, owner, brand["id"]),
        api_key=key.json()["key"],
    )


async def set_plan(engine: AsyncEngine, agency_id: uuid.UUID, plan: str) -> None:
    """The agency on ``plan``, active, with full access (no Stripe subscription: the plan
    label says "trial", the gates are the plan's)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO billing_account (agency_id, id, plan, status, access) "
                "VALUES (:a, :id, :p, 'active', 'full') ON CONFLICT (agency_id) "
                "DO UPDATE SET plan = :p, status = 'active', access = 'full'"
            ),
            {"a": agency_id, "id": new_id(), "p": plan},
        )


# Features: how each is exercised through the API --------------------------------------------

Exercise = Callable[[httpx.AsyncClient, Shop], Awaitable[httpx.Response]]


async def _approval_campaign(client: httpx.AsyncClient, shop: Shop) -> httpx.Response:
    return await client.post(
        "/v1/campaigns",
        json={
            "name": f"Approved {uuid.uuid4().hex[:6]}",
            "brand_id": shop.brand_id,
            "template_id": shop.template_id,
            "version": 1,
            "audience": {"kind": "all"},
            "channels": ["facebook"],
            "schedule": {"kind": "absolute", "at": AT},
            "variables": {},
            "approval_policy": "brand_approval",
        },
        headers=shop.owner.headers,
    )


async def _auto_reply_rule(client: httpx.AsyncClient, shop: Shop) -> httpx.Response:
    return await client.post(
        f"/v1/brands/{shop.brand_id}/auto-reply-rules",
        json={"name": f"Thanks {uuid.uuid4().hex[:6]}", "template": "Thank you!"},
        headers=shop.owner.headers,
    )


async def _analytics_export(client: httpx.AsyncClient, shop: Shop) -> httpx.Response:
    return await client.get(
        f"/v1/brands/{shop.brand_id}/analytics/export", headers=shop.owner.headers
    )


async def _create_api_key(client: httpx.AsyncClient, shop: Shop) -> httpx.Response:
    return await client.post(
        "/v1/api-keys",
        json={"name": f"Key {uuid.uuid4().hex[:6]}", "role": "admin"},
        headers=shop.owner.headers,
    )


async def _use_api_key(client: httpx.AsyncClient, shop: Shop) -> httpx.Response:
    """A key made while the plan had API keys stops working when the plan no longer does."""
    return await client.get("/v1/brands", headers={"Authorization": f"Bearer {shop.api_key}"})


FEATURE_EXERCISES: dict[Feature, tuple[Exercise, ...]] = {
    Feature.APPROVALS: (_approval_campaign,),
    Feature.AUTO_REPLIES: (_auto_reply_rule,),
    Feature.ANALYTICS_EXPORT: (_analytics_export,),
    Feature.API_KEYS: (_create_api_key, _use_api_key),
}

NOT_EXERCISED: dict[Feature, str] = {
    Feature.WEBHOOKS: "sold in the plan table, but Chorus has no customer webhooks yet: no "
    "code asks for it, so there is nothing to refuse (checked by "
    "test_a_feature_without_an_exercise_is_gated_nowhere)",
}


def test_every_feature_in_the_plan_table_is_exercised() -> None:
    in_table = set(Feature) | {f for plan in PLANS.values() for f in plan.features}
    assert not set(FEATURE_EXERCISES) & set(NOT_EXERCISED)
    missing = in_table - set(FEATURE_EXERCISES) - set(NOT_EXERCISED)
    assert not missing, f"add an API exercise to FEATURE_EXERCISES for {sorted(missing)}"


def test_a_feature_without_an_exercise_is_gated_nowhere() -> None:
    """The day code starts asking for such a feature, it needs an exercise here."""
    sources = [
        p
        for top in ("shared", "services")
        for p in (ROOT / top).rglob("*.py")
        if p != ROOT / "shared" / "billing" / "plans.py"
    ]
    assert sources
    for feature in NOT_EXERCISED:
        needle = f"Feature.{feature.name}"
        users = [str(p.relative_to(ROOT)) for p in sources if needle in p.read_text()]
        assert not users, f"{needle} is gated in {users}: move it to FEATURE_EXERCISES"


PLAN_FIELDS_EXERCISED = {"features", "channels", "location_limit"}
PLAN_FIELDS_ELSEWHERE = {
    "api_rate": "tests/test_billing.py::test_the_plans_api_rate_answers_429_naming_the_plan",
    "storage_bytes": "tests/media/test_media_api.py::"
    "test_a_file_past_the_limit_is_a_413_and_a_full_plan_a_402",
}
PLAN_FIELDS_NOT_GATES = {
    "code",
    "name",
    "price_per_location_cents",
    "trial_days",
    "stripe_price_ids",
    "currency",
}


def test_every_plan_field_is_classified() -> None:
    fields = {f.name for f in dataclasses.fields(Plan)}
    known = PLAN_FIELDS_EXERCISED | set(PLAN_FIELDS_ELSEWHERE) | PLAN_FIELDS_NOT_GATES
    assert fields == known, f"classify the new plan fields {sorted(fields - known)}"


def _refused(answer: httpx.Response, code: str, plan: str) -> dict[str, object]:
    assert answer.status_code == 402, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, object] = answer.json()
    assert problem["code"] == code, problem
    assert problem["plan"] == plan, problem
    assert "/v1/billing/subscription/plan" in str(problem["detail"])
    return problem


@pytest.mark.parametrize("plan_code", PLAN_ORDER)
async def test_each_gated_feature_is_refused_below_the_plan_and_works_from_it(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, plan_code: str
) -> None:
    plan = PLANS[plan_code]
    shop = await build_shop(client)
    await set_plan(admin_engine, shop.owner.agency_id, plan_code)
    for feature, exercises in FEATURE_EXERCISES.items():
        for exercise in exercises:
            answer = await exercise(client, shop)
            what = (plan_code, feature.value, exercise.__name__)
            if feature in plan.features:
                assert 200 <= answer.status_code < 300, (what, answer.text)
            else:
                problem = _refused(answer, "plan_feature_missing", plan_code)
                assert problem["feature"] == feature.value, (what, problem)


# Channels: every platform, on both edges that take channels ----------------------------------


async def _campaign_on(client: httpx.AsyncClient, shop: Shop, channel: str) -> httpx.Response:
    return await client.post(
        "/v1/campaigns",
        json={
            "name": f"On {channel} {uuid.uuid4().hex[:6]}",
            "brand_id": shop.brand_id,
            "template_id": shop.template_id,
            "version": 1,
            "audience": {"kind": "all"},
            "channels": [channel],
            "schedule": {"kind": "absolute", "at": AT},
            "variables": {},
        },
        headers=shop.owner.headers,
    )


async def _local_post_on(client: httpx.AsyncClient, shop: Shop, channel: str) -> httpx.Response:
    return await client.post(
        f"/v1/locations/{shop.location_id}/posts",
        json={
            "template_id": shop.template_id,
            "version": 1,
            "platforms": [channel],
            "scheduled_at": AT,
        },
        headers=shop.owner.headers,
    )


CHANNEL_EXERCISES = (_campaign_on, _local_post_on)


@pytest.mark.parametrize("plan_code", PLAN_ORDER)
async def test_each_channel_is_refused_outside_the_plan_and_works_inside(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, plan_code: str
) -> None:
    plan = PLANS[plan_code]
    every_channel = set(PLATFORMS) | {c for p in PLANS.values() for c in p.channels}
    shop = await build_shop(client)
    await set_plan(admin_engine, shop.owner.agency_id, plan_code)
    for channel in sorted(every_channel):
        for exercise in CHANNEL_EXERCISES:
            answer = await exercise(client, shop, channel)
            what = (plan_code, channel, exercise.__name__)
            if channel in plan.channels:
                assert 200 <= answer.status_code < 300, (what, answer.text)
            else:
                problem = _refused(answer, "plan_channel_missing", plan_code)
                assert problem["channels"] == [channel], (what, problem)


# The location limit ------------------------------------------------------------------------


async def _seed_locations(
    engine: AsyncEngine, agency_id: uuid.UUID, brand_id: str, count: int, status: str = "active"
) -> None:
    """``count`` locations straight in the table: the API edges are what is tested."""
    if count <= 0:
        return
    async with engine.begin() as conn:
        await conn.execute(
            insert(Location),
            [
                {
                    "agency_id": agency_id,
                    "id": new_id(),
                    "brand_id": uuid.UUID(brand_id),
                    "name": f"Seeded {status} {i:04d}",
                    "country": "US",
                    "time_zone": "America/Chicago",
                    "custom_fields": {},
                    "status": status,
                }
                for i in range(count)
            ],
        )


LocationExercise = Callable[[httpx.AsyncClient, Tenant, str], Awaitable[httpx.Response]]


async def _create_active(client: httpx.AsyncClient, owner: Tenant, brand_id: str) -> httpx.Response:
    return await client.post(
        "/v1/locations",
        json={
            "brand_id": brand_id,
            "name": f"Created {uuid.uuid4().hex[:6]}",
            "country": "US",
            "time_zone": "America/Chicago",
        },
        headers=owner.headers,
    )


async def _activate_paused(
    client: httpx.AsyncClient, owner: Tenant, brand_id: str
) -> httpx.Response:
    listed = await client.get(
        "/v1/locations",
        params={"brand_id": brand_id, "status": "paused", "limit": 1},
        headers=owner.headers,
    )
    [paused] = listed.json()["items"]
    return await client.patch(
        f"/v1/locations/{paused['id']}", json={"status": "active"}, headers=owner.headers
    )


async def _import_active(client: httpx.AsyncClient, owner: Tenant, brand_id: str) -> httpx.Response:
    row = f"imp{uuid.uuid4().hex[:8]},Imported,GB,Europe/London,active"
    return await client.post(
        f"/v1/brands/{brand_id}/locations/import?mode=all_or_nothing",
        content=f"external_ref,name,country,time_zone,status\n{row}".encode(),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )


LOCATION_EXERCISES: tuple[LocationExercise, ...] = (
    _create_active,
    _activate_paused,
    _import_active,
)
"""Every API edge that adds an active location."""

LARGEST_LIMIT = max(p.location_limit for p in PLANS.values() if p.location_limit is not None)


async def _active_total(client: httpx.AsyncClient, owner: Tenant, brand_id: str) -> int:
    listed = await client.get(
        "/v1/locations",
        params={"brand_id": brand_id, "status": "active", "limit": 1, "include": "total"},
        headers=owner.headers,
    )
    assert listed.status_code == 200, listed.text
    return int(listed.json()["total"])


@pytest.mark.parametrize("plan_code", PLAN_ORDER)
async def test_the_location_limit_allows_up_to_it_and_refuses_one_more(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, plan_code: str
) -> None:
    plan = PLANS[plan_code]
    owner = await sign_up(client)
    brand_id = (await create_brand(client, owner))["id"]
    await set_plan(admin_engine, owner.agency_id, plan_code)
    # One short of the limit (or of the largest limit any plan has, for an unlimited plan).
    last_allowed = plan.location_limit or LARGEST_LIMIT + 1
    await _seed_locations(admin_engine, owner.agency_id, brand_id, last_allowed - 1)
    await _seed_locations(admin_engine, owner.agency_id, brand_id, 1, status="paused")
    await create_location(client, owner, brand_id)  # the last one the plan allows: 201
    active = last_allowed
    for exercise in LOCATION_EXERCISES:
        answer = await exercise(client, owner, brand_id)
        if plan.location_limit is None:
            assert 200 <= answer.status_code < 300, (exercise.__name__, answer.text)
            active += 1
        else:
            problem = _refused(answer, "plan_location_limit", plan_code)
            assert problem["location_limit"] == plan.location_limit, exercise.__name__
            assert problem["active_locations"] == plan.location_limit + 1, exercise.__name__
        assert await _active_total(client, owner, brand_id) == active, exercise.__name__


# Gates no plan of today's table refuses --------------------------------------------------


def _refused_by_no_real_plan() -> tuple[list[Feature], list[str]]:
    features = [f for f in FEATURE_EXERCISES if all(f in p.features for p in PLANS.values())]
    channels = sorted(c for c in PLATFORMS if all(c in p.channels for p in PLANS.values()))
    return features, channels


async def test_a_gate_every_plan_passes_still_refuses_a_plan_without_it(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every plan includes approvals and facebook, instagram and Google Business, so the table
    above never sees those checks refuse: a plan without them (added to the table for this
    test only) must be refused by each, or a removed check would go unnoticed."""
    features, channels = _refused_by_no_real_plan()
    assert Feature.APPROVALS in features  # today's table; the loop below covers any
    starter = PLANS["starter"]
    featureless = dataclasses.replace(starter, code="featureless", features=frozenset())
    channelless = dataclasses.replace(starter, code="channelless", channels=frozenset())
    monkeypatch.setitem(PLANS, featureless.code, featureless)
    monkeypatch.setitem(PLANS, channelless.code, channelless)
    shop = await build_shop(client)
    await set_plan(admin_engine, shop.owner.agency_id, featureless.code)
    for feature in features:
        for exercise in FEATURE_EXERCISES[feature]:
            answer = await exercise(client, shop)
            problem = _refused(answer, "plan_feature_missing", featureless.code)
            assert problem["feature"] == feature.value, (exercise.__name__, problem)
    await set_plan(admin_engine, shop.owner.agency_id, channelless.code)
    for channel in channels:
        for channel_exercise in CHANNEL_EXERCISES:
            answer = await channel_exercise(client, shop, channel)
            problem = _refused(answer, "plan_channel_missing", channelless.code)
            assert problem["channels"] == [channel], (channel_exercise.__name__, problem)
