"""Throughput and latency of ``GET /v1/locations`` against a bare asyncpg endpoint.

    python bench/api_list.py [--requests N]     (DATABASE_URL / REDIS_URL select the servers)

1. A fresh database, migrated; one uvicorn process serving ``bench._bench_app`` (the real app
   plus ``GET /bench/bare-locations``, see that module) on a loopback port. One process, as
   production runs it (one uvicorn per container, scaled by replicas): both endpoints live in
   it and share its one core, so the ratio compares what each costs per request.
2. A brand with 10,000 locations, loaded through the import API; then ``VACUUM ANALYZE``
   (what autovacuum would have done by then).
3. The load comes from ``bench/_loadgen.py``, a separate process built to cost as little CPU
   as possible (uvloop, asyncio Protocols, pre-built request bytes, status line and
   Content-Length parsed, bodies sampled and compared): the box has 2 cores for the server,
   PostgreSQL and the client, and aiohttp's ~0.2 ms of Python per request was taken from the
   other two. It keeps 32 keep-alive connections with one request each in flight, and checks
   every response (200, the same length as the first; every 25th byte-identical to it).
4. A warm-up of 500 requests per endpoint, then N per endpoint in rounds of N/4 in the order
   bare, API, API, bare, bare, API, API, bare (so a drift of the machine's speed during the
   run weighs the same on both). Both fetch the first page of the brand (50 items,
   sort=created); the API with an owner's bearer token, the bare endpoint by query
   parameters. The agency's request rate limit is raised for the run (it would answer 429
   after 1,200 requests); every request still counts against it in Redis as usual.

Prints both throughputs, latencies and CPU per request (the server's, and the client's), the
ratio of throughputs (API/bare) and the API's p50/p99 latency, then
``RESULT api_list ratio=<r> p99_ms=<ms> rps=<api rps>``. Targets: ratio >= 0.5, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg

from bench._common import (
    ROOT,
    api_process,
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
overflow, 32 requests in flight keep opening and closing overflow connections. And a rate
limit the run cannot reach."""
IN_FLIGHT = 32
WARM_UP = 500
ORDER = ("bare", "api", "api", "bare", "bare", "api", "api", "bare")


async def _run_load(spec: dict[str, Any]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench._loadgen",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(json.dumps(spec).encode())
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed ({process.returncode}); see above")
    result: dict[str, Any] = json.loads(out)
    return result


async def main(requests: int) -> None:
    async with fresh_database("api_list") as database:
        app = "bench._bench_app:create_bench_app"
        with api_process(database, app, POOL) as (base, server):
            async with aiohttp.ClientSession() as http:
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

            host, port = base.removeprefix("http://").rsplit(":", 1)
            bare = f"/bench/bare-locations?agency_id={tenant.agency_id}&brand_id={brand}"
            targets = {
                "api": {"path": f"/v1/locations?brand_id={brand}", "headers": tenant.headers},
                "bare": {"path": bare, "headers": tenant.headers},
            }
            schedule = [["bare", WARM_UP], ["api", WARM_UP]]
            schedule += [[name, requests // len(ORDER) * 2] for name in ORDER]
            result = await _run_load(
                {
                    "host": host,
                    "port": int(port),
                    "connections": IN_FLIGHT,
                    "targets": targets,
                    "schedule": schedule,
                    "watch": {"server": server.pid},
                }
            )

    via_api, via_bare = result["bodies"]["api"], result["bodies"]["bare"]
    assert len(via_api["items"]) == 50, via_api
    assert [i["id"] for i in via_api["items"]] == [i["id"] for i in via_bare["items"]]
    assert set(via_api["items"][0]) == set(via_bare["items"][0])
    assert via_api["next_cursor"] == via_bare["next_cursor"]

    totals = {"api": 0.0, "bare": 0.0}
    cpu = {name: {"server": 0.0, "client": 0.0} for name in totals}
    latencies: dict[str, list[float]] = {"api": [], "bare": []}
    for measured in result["rounds"][2:]:
        name = measured["target"]
        totals[name] += measured["seconds"]
        latencies[name] += measured["latencies"]
        for key in ("server", "client"):
            cpu[name][key] += measured["cpu"][key]
    counts = {name: len(values) for name, values in latencies.items()}
    rps = {name: counts[name] / totals[name] for name in totals}
    ms = {
        name: (percentile(values, 0.50) * 1000, percentile(values, 0.99) * 1000)
        for name, values in latencies.items()
    }
    us = {name: {k: v / counts[name] * 1e6 for k, v in cpu[name].items()} for name in cpu}
    print(
        f"{counts['api']} requests per endpoint, {IN_FLIGHT} in flight, 50 items per page; "
        f"client CPU {us['api']['client']:.0f} / {us['bare']['client']:.0f} µs per request"
    )
    for name, label in (("bare", "bare asyncpg endpoint:"), ("api", "GET /v1/locations:    ")):
        print(
            f"{label} {rps[name]:8.1f} req/s   p50 {ms[name][0]:.1f} ms   "
            f"p99 {ms[name][1]:.1f} ms   server CPU {us[name]['server']:.0f} µs/request"
        )
    ratio = rps["api"] / rps["bare"]
    cpu_ratio = us["bare"]["server"] / us["api"]["server"] if us["api"]["server"] else 0.0
    print(f"ratio api/bare: {ratio:.2f}  (server CPU per request, bare/api: {cpu_ratio:.2f})")
    print(f"RESULT api_list ratio={ratio:.2f} p99_ms={ms['api'][1]:.1f} rps={rps['api']:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=6000, help="per endpoint (default 6000)")
    asyncio.run(main(parser.parse_args().requests))
