"""Collecting daily metrics: through the platform sandbox over HTTP, stored per account and
day, rollups kept exact by the database through every change, collection jobs enqueued once
per account and day, spread out, and run by a real worker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import job_key_prefix
from arq.worker import Worker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker import settings as worker_settings
from services.worker.context import WorkerContext
from services.worker.jobs import metrics as metric_jobs
from shared.config import Settings
from shared.db import Database
from shared.jobs import BULK_QUEUE, enqueue
from shared.metrics import service
from shared.metrics.service import Outcome
from shared.platforms.types import DailyMetrics
from tests.factories import Tenant, create_brand, create_group, create_location, sign_up
from tests.support.metrics import load_social_account, store_metrics
from tests.support.social_accounts import connect

TODAY = datetime.now(UTC).date()
FIELDS = ("followers", "impressions", "reach", "engagements", "clicks", "posts_published")


async def raw_rows(engine: AsyncEngine, agency_id: uuid.UUID) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM daily_metric WHERE agency_id = :a ORDER BY account_id, metric_on"),
            {"a": agency_id},
        )
        return [dict(r._mapping) for r in rows]


async def members(engine: AsyncEngine, group_id: str) -> set[uuid.UUID]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT location_id FROM location_group_member WHERE group_id = :g"),
            {"g": group_id},
        )
        return {r[0] for r in rows}


def expected_sums(rows: list[dict[str, Any]]) -> dict[str, int | None]:
    """Straight from the daily rows: additive numbers summed, followers on the last day."""
    out: dict[str, int | None] = {}
    for f in ("impressions", "reach", "engagements", "clicks", "posts_published"):
        known = [r[f] for r in rows if r[f] is not None]
        out[f] = sum(known) if known else None
    days = sorted({r["metric_on"] for r in rows if r["followers"] is not None})
    out["followers"] = (
        sum(r["followers"] for r in rows if r["metric_on"] == days[-1] and r["followers"])
        if days
        else None
    )
    return out


async def summary(
    client: httpx.AsyncClient, tenant: Tenant, path: str, start: date, end: date
) -> dict[str, Any]:
    response = await client.get(
        f"/v1/{path}/analytics/summary" if path else "/v1/analytics/summary",
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["totals"])


def numbers(day: date, **values: int | None) -> DailyMetrics:
    return DailyMetrics(day=day, **values)


# Collection through the sandbox ----------------------------------------------------------------


async def test_first_collection_backfills_30_days_then_fetches_only_new_and_revised_days(
    client: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    account = await connect(client, owner.headers, location["id"], "facebook")
    account_id = uuid.UUID(account["id"])

    first = await service.collect_account(
        app_db, settings, owner.agency_id, account_id, today=TODAY
    )
    assert first == service.CollectResult(Outcome.COLLECTED, days=30)
    rows = await raw_rows(admin_engine, owner.agency_id)
    assert [r["metric_on"] for r in rows] == [
        TODAY - timedelta(days=30 - i) for i in range(30)
    ]  # the 30 complete days up to yesterday, once each
    assert all(r["impressions"] is not None and r["followers"] for r in rows)
    assert {(r["platform"], str(r["location_id"])) for r in rows} == {("facebook", location["id"])}

    again = await service.collect_account(
        app_db, settings, owner.agency_id, account_id, today=TODAY
    )
    assert again.outcome is Outcome.COLLECTED  # the revision window, re-fetched
    assert await raw_rows(admin_engine, owner.agency_id) == rows  # same numbers, nothing added

    next_day = await service.collect_account(
        app_db, settings, owner.agency_id, account_id, today=TODAY + timedelta(days=1)
    )
    assert next_day.days == service.REVISE_DAYS
    after = await raw_rows(admin_engine, owner.agency_id)
    assert len(after) == 31
    assert after[-1]["metric_on"] == TODAY

    # The brand's totals over the month are the sums of those rows.
    start, end = TODAY - timedelta(days=29), TODAY
    got = await summary(client, owner, f"brands/{brand['id']}", start, end)
    want = expected_sums([r for r in after if start <= r["metric_on"] <= end])
    assert {f: got[f] for f in want} == want


async def test_a_refused_token_flags_the_account_and_an_outage_leaves_it_for_a_retry(
    client: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    account = await connect(client, owner.headers, location["id"], "facebook")
    account_id = uuid.UUID(account["id"])

    await sandbox.put("/_sandbox/faults/facebook", json={"error_rates": {"server_error": 1.0}})
    down = await service.collect_account(app_db, settings, owner.agency_id, account_id)
    assert down.outcome is Outcome.RETRY_LATER
    listed = await client.get(
        f"/v1/locations/{location['id']}/social-accounts", headers=owner.headers
    )
    assert [a["status"] for a in listed.json()] == ["connected"]

    await sandbox.put("/_sandbox/faults/facebook", json={"error_rates": {"auth_revoked": 1.0}})
    refused = await service.collect_account(app_db, settings, owner.agency_id, account_id)
    assert refused.outcome is Outcome.NEEDS_RECONNECT
    listed = await client.get(
        f"/v1/locations/{location['id']}/social-accounts", headers=owner.headers
    )
    assert [a["status"] for a in listed.json()] == ["needs_reconnect"]
    assert await raw_rows(admin_engine, owner.agency_id) == []

    await sandbox.put("/_sandbox/faults/facebook", json={})
    gone = await service.collect_account(app_db, settings, owner.agency_id, account_id)
    assert gone.outcome is Outcome.GONE  # not collected again until reconnected


# Rollups -----------------------------------------------------------------------------------------


async def test_rollups_stay_equal_to_the_daily_rows_through_every_change(
    client: httpx.AsyncClient,
    app_db: Database,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    group = await create_group(client, owner, brand["id"])
    l1 = await create_location(client, owner, brand["id"])
    l2 = await create_location(client, owner, brand["id"])
    a1 = await connect(client, owner.headers, l1["id"], "facebook")
    a2 = await connect(client, owner.headers, l2["id"], "x")
    added = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [l1["id"]]},
        headers=owner.headers,
    )
    assert added.status_code == 200, added.text
    d1, d2, d3 = (TODAY - timedelta(days=n) for n in (3, 2, 1))
    await store_metrics(
        app_db,
        owner.agency_id,
        a1["id"],
        [
            numbers(d1, followers=100, impressions=1000, engagements=50),
            numbers(d2, followers=110, impressions=2000, engagements=70, clicks=4),
            numbers(d3, followers=120, impressions=None, engagements=10),
        ],
    )
    await store_metrics(
        app_db,
        owner.agency_id,
        a2["id"],
        [
            numbers(d1, followers=7, impressions=300),
            numbers(d3, followers=9, impressions=500, reach=400, posts_published=2),
        ],
    )

    async def check() -> None:
        rows = await raw_rows(admin_engine, owner.agency_id)
        in_group = await members(admin_engine, group["id"])
        brand_totals = await summary(client, owner, f"brands/{brand['id']}", d1, d3)
        assert {f: brand_totals[f] for f in FIELDS} == expected_sums(rows)
        group_totals = await summary(client, owner, f"location-groups/{group['id']}", d1, d3)
        want = expected_sums([r for r in rows if r["location_id"] in in_group])
        assert {f: group_totals[f] for f in FIELDS} == want
        agency_totals = await summary(client, owner, "", d1, d3)
        assert {f: agency_totals[f] for f in FIELDS} == expected_sums(rows)

    await check()
    brand_totals = await summary(client, owner, f"brands/{brand['id']}", d1, d3)
    assert brand_totals["impressions"] == 1000 + 2000 + 300 + 500
    assert brand_totals["followers"] == 120 + 9  # the audience on the last day
    assert brand_totals["clicks"] == 4
    assert brand_totals["reach"] == 400

    # The platform revises a day: the rollups follow.
    await store_metrics(
        app_db, owner.agency_id, a1["id"], [numbers(d2, followers=111, impressions=2500)]
    )
    await check()
    # A location joins the group, the other leaves it.
    joined = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [l2["id"]]},
        headers=owner.headers,
    )
    assert joined.status_code == 200, joined.text
    await check()
    left = await client.post(
        f"/v1/location-groups/{group['id']}/members/remove",
        json={"location_ids": [l1["id"]]},
        headers=owner.headers,
    )
    assert left.status_code == 200, left.text
    await check()
    group_totals = await summary(client, owner, f"location-groups/{group['id']}", d1, d3)
    assert group_totals["impressions"] == 800
    # A location is deleted: its days leave the brand's and the group's numbers.
    deleted = await client.delete(f"/v1/locations/{l2['id']}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text
    await check()
    group_totals = await summary(client, owner, f"location-groups/{group['id']}", d1, d3)
    assert group_totals["impressions"] is None
    assert group_totals["days_with_data"] == 0
    async with admin_engine.connect() as conn:
        left_over = await conn.scalar(
            text("SELECT count(*) FROM metric_rollup WHERE scope = 'group'")
        )
    assert left_over == 0  # no empty rollup rows stay behind


async def test_another_agency_sees_none_of_the_numbers(
    client: httpx.AsyncClient, app_db: Database, sandbox: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    account = await connect(client, owner.headers, location["id"], "x")
    await store_metrics(app_db, owner.agency_id, account["id"], [numbers(TODAY, impressions=5)])

    for path in (f"brands/{brand['id']}", f"locations/{location['id']}"):
        response = await client.get(f"/v1/{path}/analytics/summary", headers=other.headers)
        assert response.status_code == 404, response.text
    mine = await client.get("/v1/analytics/summary", headers=other.headers)
    assert mine.status_code == 200
    assert mine.json()["totals"]["impressions"] is None
    async with app_db.transaction(other.agency_id) as session:
        seen = await session.execute(text("SELECT count(*) FROM daily_metric"))
        rolled = await session.execute(text("SELECT count(*) FROM metric_rollup"))
        assert (seen.scalar(), rolled.scalar()) == (0, 0)


# Jobs --------------------------------------------------------------------------------------------


def _functions() -> list[Any]:
    return worker_settings.build_functions()


@pytest.fixture
async def arq_redis(settings: Settings) -> Any:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield pool
    await pool.aclose()


async def test_the_daily_run_spreads_one_collection_per_account_and_never_queues_it_twice(
    client: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    arq_redis: ArqRedis,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    accounts = []
    for _ in range(3):
        location = await create_location(client, owner, brand["id"])
        accounts.append(await connect(client, owner.headers, location["id"], "x"))
    # Connecting queued each account's backfill; the daily run is about the rest.
    backfills = [j.decode() for j in await arq_redis.zrange(BULK_QUEUE, 0, -1)]
    assert sorted(j.split(":")[1] for j in backfills) == sorted(a["id"] for a in accounts)
    assert all(j.startswith(metric_jobs.BACKFILL_JOB) for j in backfills)
    await arq_redis.delete(BULK_QUEUE)
    ctx: dict[str, Any] = {}
    WorkerContext(settings=settings, db=app_db, redis=arq_redis).install(ctx)
    now_ms = datetime.now(UTC).timestamp() * 1000

    assert await metric_jobs.collect_due(ctx) == 3
    queued = await arq_redis.zrange(BULK_QUEUE, 0, -1, withscores=True)
    assert len(queued) == 3
    for job_id, score in queued:
        account_id = job_id.decode().split(":")[1]
        assert account_id in {a["id"] for a in accounts}
        offset_s = (score - now_ms) / 1000
        assert 0 <= offset_s <= metric_jobs.SPREAD_S + 5
    assert len({score for _, score in queued}) == 3  # spread, not all at once

    assert await metric_jobs.collect_due(ctx) == 3
    assert await arq_redis.zcard(BULK_QUEUE) == 3  # the same day: nothing queued twice


async def test_a_worker_collects_every_connected_account_of_every_agency(
    client: httpx.AsyncClient,
    settings: Settings,
    admin_engine: AsyncEngine,
    arq_redis: ArqRedis,
    sandbox: httpx.AsyncClient,
) -> None:
    tenants = [await sign_up(client), await sign_up(client)]
    for tenant in tenants:
        brand = await create_brand(client, tenant)
        location = await create_location(client, tenant, brand["id"])
        await connect(client, tenant.headers, location["id"], "instagram")
    await enqueue(arq_redis, metric_jobs.COLLECT_DUE_JOB, spread_s=0)

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, settings, start_loops=False)

    worker = Worker(
        functions=_functions(),
        redis_pool=arq_redis,
        queue_name=BULK_QUEUE,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    await worker.main()
    await worker.close()
    # Two backfills queued by connecting, the daily run, and its two collections.
    assert worker.jobs_complete == 5
    assert worker.jobs_failed == 0
    for tenant in tenants:
        rows = await raw_rows(admin_engine, tenant.agency_id)
        assert len(rows) == service.BACKFILL_DAYS
        assert {r["platform"] for r in rows} == {"instagram"}


async def test_the_backfill_is_enqueued_only_once_the_connection_commits(
    client: httpx.AsyncClient,
    app_db: Database,
    arq_redis: ArqRedis,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    account = await connect(client, owner.headers, location["id"], "x")
    row = await load_social_account(app_db, owner.agency_id, account["id"])
    # Connecting through the API queued it once committed:
    queued = [j.decode() for j in await arq_redis.zrange(BULK_QUEUE, 0, -1)]
    assert queued == [service.backfill_job_id(row.id, row.connected_at)]
    await arq_redis.delete(BULK_QUEUE, job_key_prefix + queued[0])  # as if never queued

    async def connect_then_fail() -> None:
        async with app_db.transaction(owner.agency_id) as session:
            service.backfill_after_commit(session, arq_redis, row)
            raise RuntimeError("the connection failed after all")

    with pytest.raises(RuntimeError):
        await connect_then_fail()
    assert await arq_redis.zcard(BULK_QUEUE) == 0

    async with app_db.transaction(owner.agency_id) as session:
        service.backfill_after_commit(session, arq_redis, row)
    queued = [j.decode() for j in await arq_redis.zrange(BULK_QUEUE, 0, -1)]
    assert queued == [service.backfill_job_id(row.id, row.connected_at)]


def test_the_collection_window() -> None:
    day = date(2026, 3, 10)
    assert service.window(None, day, backfill=30) == (date(2026, 2, 8), date(2026, 3, 9))
    assert service.window(date(2026, 3, 9), day) == (date(2026, 3, 7), date(2026, 3, 9))
    assert service.window(date(2026, 3, 1), day) == (date(2026, 3, 2), date(2026, 3, 9))
    long_ago = service.window(date(2025, 1, 1), day)
    assert long_ago is not None
    assert long_ago[0] == day - timedelta(days=service.MAX_DAYS_PER_RUN)


async def test_collecting_a_whole_agency_fills_every_connected_account(
    client: httpx.AsyncClient,
    app_db: Database,
    settings: Settings,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    for platform in ("facebook", "instagram"):
        location = await create_location(client, owner, brand["id"])
        await connect(client, owner.headers, location["id"], platform)
    counts = await service.collect_agency(app_db, settings, owner.agency_id)
    assert counts == {Outcome.COLLECTED: 2}
    rows = await raw_rows(admin_engine, owner.agency_id)
    assert len(rows) == 2 * service.BACKFILL_DAYS
    start = TODAY - timedelta(days=30)
    body = await client.get(
        f"/v1/brands/{brand['id']}/analytics/timeseries",
        params={"from": start.isoformat(), "to": (TODAY - timedelta(days=1)).isoformat()},
        headers=owner.headers,
    )
    assert body.status_code == 200
    points = body.json()["points"]
    assert len(points) == 30
    assert all(p["totals"]["impressions"] for p in points)  # a month of numbers, every day
