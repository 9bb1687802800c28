"""Analytics as a brand manager reads them: totals, comparisons, series, leaderboards and the
CSV export, each checked against numbers worked out here, straight from the daily rows and
reviews written for the test."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.platforms.types import DailyMetrics
from tests.factories import Tenant, create_brand, create_group, create_location, sign_up
from tests.support.access import bearer, invite_and_accept
from tests.support.metrics import store_metrics
from tests.support.social_accounts import connect

ADDITIVE = ("impressions", "reach", "engagements", "clicks", "posts_published")
END = datetime.now(UTC).date() - timedelta(days=1)
START = END - timedelta(days=27)  # 4 weeks
PREV_START = START - timedelta(days=28)
PLATFORMS = ("facebook", "x")


@dataclass
class World:
    owner: Tenant
    brand: dict[str, Any]
    group: dict[str, Any]
    locations: list[dict[str, Any]]
    rows: list[dict[str, Any]]  # every daily row written: location_id, platform, day, numbers
    reviews: list[dict[str, Any]]


def _numbers(rng: random.Random, platform: str) -> dict[str, int | None]:
    impressions = rng.randrange(100, 5000)
    return {
        "followers": rng.randrange(500, 900),
        "impressions": impressions,
        # X gives no reach; a few days lack clicks.
        "reach": None if platform == "x" else impressions * 3 // 4,
        "engagements": rng.randrange(0, impressions // 10),
        "clicks": None if rng.random() < 0.2 else rng.randrange(0, 40),
        "posts_published": rng.randrange(0, 3),
    }


async def _reviews(
    engine: AsyncEngine, owner: Tenant, brand_id: str, locations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Yelp reviews (no account needed): ratings, some replied after some hours."""
    rng = random.Random(5)
    written: list[dict[str, Any]] = []
    async with engine.begin() as conn:
        for n, location in enumerate(locations[:4]):
            source_id = uuid.uuid4()
            await conn.execute(
                text(
                    "INSERT INTO review_source (agency_id, id, brand_id, location_id, source, "
                    "external_id) VALUES (:a, :id, :b, :l, 'yelp', :ext)"
                ),
                {
                    "a": owner.agency_id,
                    "id": source_id,
                    "b": brand_id,
                    "l": location["id"],
                    "ext": f"yelp-{n}",
                },
            )
            for i in range(3 + n):
                created = datetime.combine(
                    START + timedelta(days=rng.randrange(0, 28)), time(10), UTC
                )
                replied = (
                    created + timedelta(hours=rng.randrange(1, 72)) if rng.random() < 0.6 else None
                )
                review = {
                    "a": owner.agency_id,
                    "id": uuid.uuid4(),
                    "b": brand_id,
                    "l": location["id"],
                    "s": source_id,
                    "ext": f"r-{n}-{i}",
                    "rating": rng.randrange(1, 6),
                    "created": created,
                    "replied": replied,
                }
                await conn.execute(
                    text(
                        "INSERT INTO review (agency_id, id, brand_id, location_id, source_id, "
                        "source, external_id, rating, created_at, updated_at, sentiment_score, "
                        "sentiment_label, replied_at, reply_status) VALUES (:a, :id, :b, :l, "
                        ":s, 'yelp', :ext, :rating, :created, :created, 0, 'neutral', "
                        ":replied, CASE WHEN CAST(:replied AS timestamptz) IS NULL "
                        "THEN 'none' ELSE 'sent' END)"
                    ),
                    review,
                )
                written.append(review)
    return written


@pytest.fixture
async def world(
    client: httpx.AsyncClient,
    app_db: Database,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> World:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    group = await create_group(client, owner, brand["id"])
    locations = [await create_location(client, owner, brand["id"]) for _ in range(5)]
    added = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [loc["id"] for loc in locations[:3]]},
        headers=owner.headers,
    )
    assert added.status_code == 200, added.text
    rng = random.Random(42)
    rows: list[dict[str, Any]] = []
    for location in locations:
        for platform in PLATFORMS:
            account = await connect(client, owner.headers, location["id"], platform)
            batch = []
            day = PREV_START
            while day <= END:
                if rng.random() > 0.1:  # some days missing
                    values = _numbers(rng, platform)
                    batch.append(DailyMetrics(day=day, **values))
                    rows.append(
                        {"location_id": location["id"], "platform": platform, "day": day, **values}
                    )
                day += timedelta(days=1)
            await store_metrics(app_db, owner.agency_id, account["id"], batch)
    reviews = await _reviews(admin_engine, owner, brand["id"], locations)
    return World(owner, brand, group, locations, rows, reviews)


def expect(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in ADDITIVE:
        known = [r[f] for r in rows if r[f] is not None]
        out[f] = sum(known) if known else None
    by_day: dict[date, int] = defaultdict(int)
    for r in rows:
        by_day[r["day"]] += r["followers"]
    if by_day:
        out["followers"] = by_day[max(by_day)]
        out["followers_change"] = by_day[max(by_day)] - by_day[min(by_day)]
    else:
        out["followers"] = out["followers_change"] = None
    out["engagement_rate"] = (
        round(out["engagements"] / out["impressions"], 6) if out["impressions"] else None
    )
    out["days_with_data"] = len({r["day"] for r in rows})
    return out


def within(rows: list[dict[str, Any]], start: date, end: date) -> list[dict[str, Any]]:
    return [r for r in rows if start <= r["day"] <= end]


def pct(now: float | None, before: float | None) -> float | None:
    return None if now is None or not before else round((now - before) / before * 100, 2)


async def get(client: httpx.AsyncClient, tenant: Tenant, url: str, **params: Any) -> Any:
    params = {"from": START.isoformat(), "to": END.isoformat(), **params}
    response = await client.get(url, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_totals_match_the_daily_rows_for_every_scope_with_the_previous_period(
    client: httpx.AsyncClient, world: World
) -> None:
    ids = [loc["id"] for loc in world.locations]
    scopes = {
        "/v1/analytics/summary": ids,
        f"/v1/brands/{world.brand['id']}/analytics/summary": ids,
        f"/v1/location-groups/{world.group['id']}/analytics/summary": ids[:3],
        f"/v1/locations/{ids[4]}/analytics/summary": ids[4:],
    }
    for url, location_ids in scopes.items():
        body = await get(client, world.owner, url)
        mine = [r for r in world.rows if r["location_id"] in location_ids]
        current, previous = (
            expect(within(mine, START, END)),
            expect(within(mine, PREV_START, START - timedelta(days=1))),
        )
        assert body["totals"] == current, url
        assert body["previous"] == previous, url
        assert body["previous_period"] == {
            "start": PREV_START.isoformat(),
            "end": (START - timedelta(days=1)).isoformat(),
        }
        assert body["change_pct"]["impressions"] == pct(
            current["impressions"], previous["impressions"]
        )
        assert body["change_pct"]["engagement_rate"] == pct(
            current["engagement_rate"], previous["engagement_rate"]
        )
        by_platform = {p["platform"]: p for p in body["by_platform"]}
        assert set(by_platform) == set(PLATFORMS)
        for platform in PLATFORMS:
            rows = [r for r in mine if r["platform"] == platform]
            assert by_platform[platform]["totals"] == expect(within(rows, START, END))
        assert by_platform["x"]["totals"]["reach"] is None  # X never gave it

    only_x = await get(
        client, world.owner, f"/v1/brands/{world.brand['id']}/analytics/summary", platform="x"
    )
    assert only_x["totals"] == expect(
        within([r for r in world.rows if r["platform"] == "x"], START, END)
    )


async def test_weekly_series_sum_to_the_daily_rows_of_each_week(
    client: httpx.AsyncClient, world: World
) -> None:
    body = await get(
        client,
        world.owner,
        f"/v1/location-groups/{world.group['id']}/analytics/timeseries",
        interval="week",
    )
    mine = [r for r in world.rows if r["location_id"] in {x["id"] for x in world.locations[:3]}]
    points = body["points"]
    assert points[0]["start"] == START.isoformat()
    assert points[-1]["end"] == END.isoformat()
    covered = 0
    for point in points:
        start, end = date.fromisoformat(point["start"]), date.fromisoformat(point["end"])
        assert start.weekday() == 0 or start == START  # weeks start on Monday
        assert point["totals"] == expect(within(mine, start, end))
        covered += (end - start).days + 1
    assert covered == 28
    assert len(body["previous_points"]) == len(points)
    daily = await get(client, world.owner, f"/v1/brands/{world.brand['id']}/analytics/timeseries")
    assert len(daily["points"]) == 28
    assert (
        sum(p["totals"]["impressions"] or 0 for p in daily["points"])
        == expect(within(world.rows, START, END))["impressions"]
    )


async def test_leaderboards_rank_locations_as_their_numbers_say(
    client: httpx.AsyncClient, world: World
) -> None:
    names = {loc["id"]: loc["name"] for loc in world.locations}
    rates = {}
    for loc_id in names:
        rows = within([r for r in world.rows if r["location_id"] == loc_id], START, END)
        rates[loc_id] = sum(r["engagements"] for r in rows) / sum(r["impressions"] for r in rows)
    url = f"/v1/brands/{world.brand['id']}/analytics/leaderboard"
    best = await get(client, world.owner, url, metric="engagement_rate", limit=3)
    assert [e["location_id"] for e in best["entries"]] == sorted(rates, key=lambda k: -rates[k])[:3]
    assert best["entries"][0]["value"] == pytest.approx(max(rates.values()), abs=1e-6)
    assert best["entries"][0]["location_name"] == names[best["entries"][0]["location_id"]]
    worst = await get(client, world.owner, url, metric="engagement_rate", order="worst")
    assert [e["location_id"] for e in worst["entries"]] == sorted(rates, key=lambda k: rates[k])

    by_location: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for review in world.reviews:
        by_location[review["l"]].append(review)
    rating = {k: sum(r["rating"] for r in v) / len(v) for k, v in by_location.items()}
    response_rate = {
        k: sum(r["replied"] is not None for r in v) / len(v) for k, v in by_location.items()
    }
    hours = {
        k: sum((r["replied"] - r["created"]).total_seconds() / 3600 for r in replied) / len(replied)
        for k, v in by_location.items()
        if (replied := [r for r in v if r["replied"] is not None])
    }
    for metric, values, lower_is_better in (
        ("rating", rating, False),
        ("response_rate", response_rate, False),
        ("response_time", hours, True),
    ):
        body = await get(client, world.owner, url, metric=metric, limit=10)
        got = {e["location_id"]: e["value"] for e in body["entries"]}
        assert got == pytest.approx({k: round(v, 6) for k, v in values.items()}, abs=1e-5)
        ordered = [e["value"] for e in body["entries"]]
        assert ordered == sorted(ordered, reverse=not lower_is_better), metric
    group = await get(
        client,
        world.owner,
        f"/v1/location-groups/{world.group['id']}/analytics/leaderboard",
        metric="rating",
    )
    assert {e["location_id"] for e in group["entries"]} <= {x["id"] for x in world.locations[:3]}


async def test_the_csv_export_holds_every_daily_row_of_the_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(
        f"/v1/location-groups/{world.group['id']}/analytics/export",
        params={"from": START.isoformat(), "to": END.isoformat()},
        headers=world.owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    in_group = {x["id"] for x in world.locations[:3]}
    want = within([r for r in world.rows if r["location_id"] in in_group], START, END)
    assert len(lines) == len(want)
    seen = {(x["location_id"], x["platform"], x["date"]): x for x in lines}
    for row in want:
        line = seen[(row["location_id"], row["platform"], row["day"].isoformat())]
        for f in ("followers", *ADDITIVE):
            assert line[f] == ("" if row[f] is None else str(row[f]))
    names = {x["id"]: x["name"] for x in world.locations}
    assert all(line["location_name"] == names[line["location_id"]] for line in lines)


async def test_who_may_read_which_numbers(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, world: World
) -> None:
    owner, brand_id = world.owner, world.brand["id"]
    mine, theirs = world.locations[0]["id"], world.locations[1]["id"]
    manager = await invite_and_accept(
        client, admin_engine, owner, "lm@example.com", "location_manager", location_id=mine
    )
    headers = bearer(manager["access_token"])
    ok = await client.get(f"/v1/locations/{mine}/analytics/summary", headers=headers)
    assert ok.status_code == 200
    assert ok.json()["totals"]["impressions"] is not None
    other = await client.get(f"/v1/locations/{theirs}/analytics/summary", headers=headers)
    assert other.status_code == 404
    brand = await client.get(f"/v1/brands/{brand_id}/analytics/summary", headers=headers)
    assert brand.status_code == 403
    assert brand.json()["missing_permission"] == "metric.read"

    brand_manager = await invite_and_accept(
        client, admin_engine, owner, "bm@example.com", "brand_manager", brand_id=brand_id
    )
    headers = bearer(brand_manager["access_token"])
    assert (
        await client.get(f"/v1/brands/{brand_id}/analytics/summary", headers=headers)
    ).status_code == 200
    agency = await client.get("/v1/analytics/summary", headers=headers)
    assert agency.status_code == 403
    assert agency.json()["missing_permission"] == "metric.read"


async def test_a_reversed_or_overlong_range_is_refused_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    reversed_ = await client.get(
        "/v1/analytics/summary",
        params={"from": "2026-03-10", "to": "2026-03-01"},
        headers=owner.headers,
    )
    assert reversed_.status_code == 422
    assert reversed_.json()["errors"][0]["field"] == "query.from"
    assert "on or before 'to'" in reversed_.json()["detail"]
    too_long = await client.get(
        "/v1/analytics/timeseries",
        params={"from": "2020-01-01", "to": "2026-03-01"},
        headers=owner.headers,
    )
    assert too_long.status_code == 422
    unknown = await client.get(
        "/v1/analytics/summary", params={"platform": "myspace"}, headers=owner.headers
    )
    assert unknown.status_code == 422
    assert "myspace" in unknown.json()["detail"]
