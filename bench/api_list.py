"""Throughput and latency of ``GET /v1/locations`` against a bare asyncpg endpoint.

    python bench/api_list.py [--requests N]     (DATABASE_URL / REDIS_URL select the servers)

1. A fresh database, migrated; one uvicorn process serving ``bench._bench_app`` (the real app
   plus ``GET /bench/bare-locations``, see that module) on a loopback port.
2. A brand with 10,000 locations, loaded through the import API; then ``VACUUM ANALYZE``
   (what autovacuum would have done by then).
3. aiohttp keeps 32 requests in flight: a warm-up of 500 requests per endpoint, then
   alternating rounds (bare, API, bare, API) of N/2 requests each, so both see the same
   conditions. Both fetch the first page of the brand (50 items, sort=created); the API with
   an owner's bearer token, the bare endpoint by query parameters.

Prints both throughputs, their ratio (API/bare) and the API's p50/p99 latency, then
``RESULT api_list ratio=<r> p99_ms=<ms> rps=<api rps>``. Targets: ratio >= 0.5, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg

from bench._common import (
    api_server,
    create_brand,
    fresh_database,
    locations_csv,
    percentile,
    plain,
    sign_up,
)

LOCATIONS = 10_000
POOL = {
    "CHORUS_DB_POOL_SIZE": "20",
    "CHORUS_DB_MAX_OVERFLOW": "0",
    "CHORUS_RATE_LIMIT_AGENCY_REQUESTS": "100000000/minute",
}
"""20 kept connections for the app, as the bare endpoint's pool has: with the default 10 + 10
overflow, 32 requests in flight keep opening and closing overflow connections."""
IN_FLIGHT = 32
WARM_UP = 500


async def _load(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], count: int
) -> tuple[float, list[float]]:
    """``count`` GETs with IN_FLIGHT in flight; (elapsed seconds, per-request latencies)."""
    latencies: list[float] = []
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            async with http.get(url, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}: {response.status} {body[:300]!r}")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return time.perf_counter() - started, latencies


async def main(requests: int) -> None:
    async with fresh_database("api_list") as database:
        with api_server(database, "bench._bench_app:create_bench_app", POOL) as base:
            connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
            async with aiohttp.ClientSession(connector=connector) as http:
                tenant = await sign_up(http, base)
                brand = await create_brand(http, base, tenant, "Slice & Co")
                async with http.post(
                    f"{base}/v1/brands/{brand}/locations/import",
                    data=locations_csv(LOCATIONS).encode(),
                    headers={**tenant.headers, "Content-Type": "text/csv"},
                ) as response:
                    assert response.status == 200, await response.text()
                conn = await asyncpg.connect(plain(database))
                await conn.execute("VACUUM ANALYZE")
                await conn.close()

                api = (f"{base}/v1/locations?brand_id={brand}", tenant.headers)
                bare = (f"{base}/bench/bare-locations?agency_id={tenant.agency_id}"
                        f"&brand_id={brand}", tenant.headers)  # fmt: skip
                async with http.get(api[0], headers=api[1]) as r1:
                    via_api = await r1.json()
                async with http.get(bare[0], headers=bare[1]) as r2:
                    via_bare = await r2.json()
                assert "items" in via_bare, via_bare
                assert [i["id"] for i in via_api["items"]] == [i["id"] for i in via_bare["items"]]
                assert set(via_api["items"][0]) == set(via_bare["items"][0])
                assert via_api["next_cursor"] == via_bare["next_cursor"]

                for url, headers in (bare, api):
                    await _load(http, url, headers, WARM_UP)
                totals = {"api": 0.0, "bare": 0.0}
                latencies: dict[str, list[float]] = {"api": [], "bare": []}
                for _ in range(2):
                    for name, (url, headers) in (("bare", bare), ("api", api)):
                        elapsed, seen = await _load(http, url, headers, requests // 2)
                        totals[name] += elapsed
                        latencies[name] += seen

    api_rps = requests / totals["api"]
    bare_rps = requests / totals["bare"]
    ms = {
        name: (percentile(values, 0.50) * 1000, percentile(values, 0.99) * 1000)
        for name, values in latencies.items()
    }
    print(f"{requests} requests per endpoint, {IN_FLIGHT} in flight, 50 items per page")
    print(
        f"bare asyncpg endpoint: {bare_rps:8.1f} req/s   "
        f"p50 {ms['bare'][0]:.1f} ms   p99 {ms['bare'][1]:.1f} ms"
    )
    print(
        f"GET /v1/locations:     {api_rps:8.1f} req/s   "
        f"p50 {ms['api'][0]:.1f} ms   p99 {ms['api'][1]:.1f} ms"
    )
    ratio = api_rps / bare_rps
    print(f"ratio api/bare: {ratio:.2f}")
    print(f"RESULT api_list ratio={ratio:.2f} p99_ms={ms['api'][1]:.1f} rps={api_rps:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=6000, help="per endpoint (default 6000)")
    asyncio.run(main(parser.parse_args().requests))
