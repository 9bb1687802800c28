"""Analytics at scale: a brand's 90-day summary over 10,000 locations × 3 channels (2.7
million daily rows), answered from the rollups, against the plain aggregate over the raw rows.

    python bench/rollup.py            (DATABASE_URL / REDIS_URL select the servers)

1. A fresh database, migrated; the API under uvicorn in a child process.
2. Sign up, a brand, 10,000 active locations and 30,000 connected accounts (Facebook,
   Instagram, X; written directly, as ``bench/fanout.py`` does), 10 location groups of 1,000.
3. 90 days of numbers for every account, loaded day by day (30,000 rows per COPY, as a day's
   collection would arrive): the database's triggers keep the brand and group rollups as the
   rows land. The load time includes that upkeep.
4. Time ``GET /v1/brands/{id}/analytics/summary`` for those 90 days (with the previous 90 days
   for the comparison, and the per-channel breakdown): 5 warm-ups, then 50 requests one after
   another; p50 and p95. The same for a group and for the daily time series.
5. In the same run, on one database connection as the application role (row-level security
   on, tenant set): the per-day-and-channel aggregate the endpoint needs, read from the rollup
   and computed from the raw rows; ``raw_ratio`` = raw p50 ÷ rollup p50. Both give the same
   numbers (checked).

Ends with ``RESULT rollup p50_ms=<API p50> raw_ratio=<raw/rollup>``. Target: p50_ms <= 100.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg

from bench._common import api_server, create_brand, fresh_database, percentile, plain, sign_up
from bench.fanout import CHANNELS, LOCATIONS, _locations_and_accounts

DAYS = 90
GROUPS = 10
FIELDS = ("followers", "impressions", "reach", "engagements", "clicks", "posts_published")

ROLLUP_SQL = (
    "SELECT metric_on, platform, "
    + ", ".join(f"sum({f}), sum({f}_n)" for f in FIELDS)
    + " FROM metric_rollup WHERE agency_id = $1 AND scope = 'brand' AND scope_id = $2 "
    "AND metric_on BETWEEN $3 AND $4 GROUP BY metric_on, platform"
)
RAW_SQL = (
    "SELECT metric_on, platform, "
    + ", ".join(f"coalesce(sum({f}), 0), count({f})" for f in FIELDS)
    + " FROM daily_metric WHERE agency_id = $1 AND brand_id = $2 "
    "AND metric_on BETWEEN $3 AND $4 GROUP BY metric_on, platform"
)


async def _groups(conn: asyncpg.Connection, agency: uuid.UUID, brand: uuid.UUID) -> list[uuid.UUID]:
    groups = [uuid.uuid4() for _ in range(GROUPS)]
    await conn.copy_records_to_table(
        "location_group",
        records=[(agency, g, brand, f"Region {n}") for n, g in enumerate(groups)],
        columns=["agency_id", "id", "brand_id", "name"],
    )
    locations = [r["id"] for r in await conn.fetch("SELECT id FROM location ORDER BY id")]
    await conn.copy_records_to_table(
        "location_group_member",
        records=[(agency, groups[i % GROUPS], loc) for i, loc in enumerate(locations)],
        columns=["agency_id", "group_id", "location_id"],
    )
    return groups


async def _load_metrics(conn: asyncpg.Connection, first: date) -> float:
    accounts = await conn.fetch(
        "SELECT agency_id, id, brand_id, location_id, platform FROM social_account ORDER BY id"
    )
    started = time.perf_counter()
    for d in range(DAYS):
        day = first + timedelta(days=d)
        records = []
        for n, a in enumerate(accounts):
            base = 300 + (n * 37) % 20_000
            impressions = base * (1 + (n + d) % 5) // 3
            reach = None if a["platform"] == "x" else impressions * 3 // 4
            engagements = impressions * (1 + (n * 7 + d) % 8) // 100
            records.append(
                (
                    a["agency_id"],
                    a["id"],
                    day,
                    a["brand_id"],
                    a["location_id"],
                    a["platform"],
                    base + d * 3,
                    impressions,
                    reach,
                    engagements,
                    engagements // 4,
                    (n + d) % 3,
                )
            )
        await conn.copy_records_to_table(
            "daily_metric",
            records=records,
            columns=[
                "agency_id",
                "account_id",
                "metric_on",
                "brand_id",
                "location_id",
                "platform",
                *FIELDS,
            ],
        )
    seconds = time.perf_counter() - started
    await conn.execute("ANALYZE daily_metric; ANALYZE metric_rollup")
    return seconds


async def _time_http(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], n: int = 50
) -> list[float]:
    for _ in range(5):
        async with http.get(url, headers=headers) as r:
            assert r.status == 200, await r.text()
            await r.read()
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        async with http.get(url, headers=headers) as r:
            await r.read()
            assert r.status == 200
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _time_sql(
    conn: asyncpg.Connection, sql: str, args: tuple[object, ...], n: int
) -> tuple[list[float], list[asyncpg.Record]]:
    rows = await conn.fetch(sql, *args)
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        rows = await conn.fetch(sql, *args)
        timings.append((time.perf_counter() - started) * 1000)
    return timings, rows


async def main() -> None:
    end = datetime.now(UTC).date() - timedelta(days=1)
    first = end - timedelta(days=DAYS - 1)
    async with fresh_database("rollup") as url:
        dsn = plain(url)
        with api_server(url) as base:
            async with aiohttp.ClientSession() as http:
                tenant = await sign_up(http, base)
                brand = await create_brand(http, base, tenant, "Slice & Co")
                agency_id, brand_id = uuid.UUID(tenant.agency_id), uuid.UUID(brand)
                await _locations_and_accounts(dsn, agency_id, brand_id)
                conn = await asyncpg.connect(dsn)
                try:
                    groups = await _groups(conn, agency_id, brand_id)
                    load_s = await _load_metrics(conn, first)
                    raw_count = await conn.fetchval("SELECT count(*) FROM daily_metric")
                    rollup_count = await conn.fetchval("SELECT count(*) FROM metric_rollup")
                finally:
                    await conn.close()
                query = f"from={first.isoformat()}&to={end.isoformat()}"
                summary_ms = await _time_http(
                    http, f"{base}/v1/brands/{brand}/analytics/summary?{query}", tenant.headers
                )
                group_ms = await _time_http(
                    http,
                    f"{base}/v1/location-groups/{groups[0]}/analytics/summary?{query}",
                    tenant.headers,
                )
                series_ms = await _time_http(
                    http, f"{base}/v1/brands/{brand}/analytics/timeseries?{query}", tenant.headers
                )
                async with http.get(
                    f"{base}/v1/brands/{brand}/analytics/summary?{query}", headers=tenant.headers
                ) as r:
                    totals = (await r.json())["totals"]
        from shared.config import Settings

        app_url = Settings(env="development", database_url=dsn).app_db_url
        app = await asyncpg.connect(plain(app_url))
        try:
            async with app.transaction():
                await app.execute("SELECT set_config('app.agency_id', $1, true)", str(agency_id))
                args = (agency_id, brand_id, first - timedelta(days=DAYS), end)
                rollup_sql_ms, rolled = await _time_sql(app, ROLLUP_SQL, args, 50)
                raw_sql_ms, raw = await _time_sql(app, RAW_SQL, args, 7)
        finally:
            await app.close()
    assert raw_count == LOCATIONS * len(CHANNELS) * DAYS, raw_count
    key = {(r[0], r[1]): tuple(int(v) for v in r[2:]) for r in rolled}
    assert key == {(r[0], r[1]): tuple(int(v) for v in r[2:]) for r in raw}, "rollup ≠ raw"
    impressions = sum(v[2] for v in key.values())
    assert totals["impressions"] == impressions, (totals["impressions"], impressions)
    p50 = statistics.median(summary_ms)
    rollup_p50, raw_p50 = statistics.median(rollup_sql_ms), statistics.median(raw_sql_ms)
    print(
        f"{raw_count:,} daily rows loaded day by day in {load_s:.1f} s "
        f"({raw_count / load_s:,.0f} rows/s, rollup upkeep included); "
        f"{rollup_count:,} rollup rows (brand + {GROUPS} groups)"
    )
    print(f"API brand 90-day summary: p50 {p50:.1f} ms, p95 {percentile(summary_ms, 0.95):.1f} ms")
    print(
        f"API group summary: p50 {statistics.median(group_ms):.1f} ms; "
        f"API brand daily time series: p50 {statistics.median(series_ms):.1f} ms"
    )
    print(
        f"SQL per day and channel, 180 days: rollup p50 {rollup_p50:.2f} ms, "
        f"raw rows p50 {raw_p50:.1f} ms (same numbers)"
    )
    print(f"RESULT rollup p50_ms={p50:.1f} raw_ratio={raw_p50 / rollup_p50:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
