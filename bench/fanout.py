"""Campaign fan-out: 10,000 locations × 3 channels (30,000 posts) from the launch request to
the last post written, against a plain COPY of the same rows.

    python bench/fanout.py            (DATABASE_URL / REDIS_URL select the servers)

1. A fresh database, migrated; the API under uvicorn in a child process; the fan-out job in a
   worker child process (an arq ``Worker`` running ``campaign.fan_out``, the job's real path:
   Redis queue → job → ``shared.campaigns.fanout.run``), started and idle before the clock
   starts. The worker polls the queue every 20 ms (arq's default is 500 ms).
2. Sign up, a brand, a template (location fields, a campaign variable, a photo) published,
   10,000 active locations across 32 time zones and 30,000 connected social accounts
   (Facebook, Instagram, X; sealed tokens, written directly as ``tests/support/world.py``
   does), then a campaign at 09:00 local time for all of them.
3. Time ``POST /v1/campaigns/{id}/launch`` from the request being sent until the campaign
   leaves ``launching`` (polled every 5 ms on the database): all 30,000 posts and their
   history rows written, checked after. The worker's peak RSS (``VmHWM``) is read before it
   stops.
4. Time a COPY of the same 30,000 stored rows into a scratch copy of ``post`` (``LIKE post
   INCLUDING ALL``: same defaults, constraints and indexes): the floor for writing them.

Ends with ``RESULT fanout seconds=<s> copy_ratio=<fanout/copy> rss_mb=<worker peak>``.
Targets: seconds <= 1.5, copy_ratio <= 6, rss_mb <= 300.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg

from bench._common import (
    CITIES,
    MANAGERS,
    ROOT,
    STREETS,
    api_server,
    create_brand,
    fresh_database,
    plain,
    redis_url,
    sign_up,
)

LOCATIONS = 10_000
CHANNELS = ("facebook", "instagram", "x")
BODY = (
    "Pizza week at {{ location.name }}, {{ location.address_line1 }}, {{ location.city }}! "
    "{{ campaign.offer }} {% if location.phone %}Call {{ location.phone }}.{% endif %} "
    "Ask {{ location.custom.manager }}. #PizzaWeek"
)
PHOTO = {"kind": "image", "url": "https://cdn.example/pizza.jpg", "width": 1080, "height": 1080}


# The worker child ---------------------------------------------------------------------------


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _worker_main() -> None:
    """The worker process: an arq Worker running campaign.fan_out until terminated."""
    from arq.connections import RedisSettings, create_pool
    from arq.worker import Worker

    from services.worker.context import WorkerContext
    from services.worker.jobs import campaigns as campaign_jobs
    from services.worker.registry import job
    from shared.config import get_settings
    from shared.db import Database
    from shared.jobs import QUEUE_NAME

    settings = get_settings()
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    db = Database(settings.app_db_url, pool_size=2)

    async def startup(ctx: dict[str, Any]) -> None:
        WorkerContext(settings=settings, db=db, redis=ctx["redis"]).install(ctx)
        async with db.transaction() as session:  # open the pool before the clock starts
            await session.connection()
        print("worker ready", flush=True)

    worker = Worker(
        functions=[job(campaign_jobs.FAN_OUT_JOB, campaign_jobs.fan_out)],
        redis_pool=redis,
        on_startup=startup,
        queue_name=QUEUE_NAME,
        poll_delay=0.02,
        handle_signals=True,
        max_jobs=1,
    )
    try:
        await worker.async_run()
    except asyncio.CancelledError:  # SIGTERM from the bench: arq cancels its main task
        pass
    finally:
        await worker.close()
        await db.dispose()


def _start_worker(database: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": plain(database),
        "REDIS_URL": redis_url(),
        "CHORUS_ENV": "development",
        "CHORUS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if b"worker ready" not in line:
        process.kill()
        raise RuntimeError(f"the worker did not start: {line!r}")
    return process


# Set-up ---------------------------------------------------------------------------------------


async def _json(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    data: dict[str, Any] = await response.json()
    assert response.status == status, data
    return data


async def _template(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], brand: str
) -> str:
    body = {
        "brand_id": brand,
        "name": "Pizza week",
        "bodies": {"default": BODY},
        "media": {"default": [PHOTO]},
    }
    async with http.post(f"{base}/v1/templates", json=body, headers=headers) as r:
        template_id = str((await _json(r, 201))["template_id"])
    async with http.post(
        f"{base}/v1/templates/{template_id}/versions/1/publish", headers=headers
    ) as r:
        await _json(r, 200)
    return template_id


async def _locations_and_accounts(dsn: str, agency: uuid.UUID, brand: uuid.UUID) -> None:
    """10,000 active locations and a connected account per location and channel, written
    directly (COPY) as the database owner, tokens sealed as the app seals them."""
    from shared.config import Settings
    from shared.crypto import Sealed, keyring_from_settings
    from shared.ids import new_id
    from shared.social_accounts import sealing
    from shared.social_accounts.models import SocialAccount

    rng = random.Random(11)
    now = datetime.now(UTC)
    locations = []
    for n in range(LOCATIONS):
        city, region, country, zone, postal = CITIES[n % len(CITIES)]
        locations.append(
            (
                agency,
                new_id(),
                brand,
                f"store-{n:05d}",
                f"Slice & Co {city} #{n}",
                f"{rng.randrange(1, 400)} {STREETS[n % len(STREETS)]}",
                city,
                region,
                f"{postal}{rng.randrange(10, 99)}",
                country,
                zone,
                "" if n % 7 == 0 else f"+1 555 {n:07d}",
                json.dumps({"manager": MANAGERS[n % len(MANAGERS)]}),
                "active",
            )
        )
    keyring = keyring_from_settings(Settings(env="development"))
    accounts = []
    for location in locations:
        for platform in CHANNELS:
            account = SocialAccount(
                id=new_id(), agency_id=agency, brand_id=brand, location_id=location[1]
            )
            sealing.store_tokens(
                account,
                keyring,
                access_token=Sealed(f"tok-{platform}-{location[1].hex[:12]}"),
                refresh_token=None,
                expires_at=None,
                refresh_expires_at=None,
            )
            accounts.append(
                (
                    agency,
                    account.id,
                    brand,
                    location[1],
                    platform,
                    f"{platform}-{location[1].hex}",
                    f"{location[4]} on {platform}",
                    "page",
                    "connected",
                    account.access_token,
                    account.token_key_id,
                    now,
                )
            )
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "location",
            records=locations,
            columns=[
                "agency_id",
                "id",
                "brand_id",
                "external_ref",
                "name",
                "address_line1",
                "city",
                "region",
                "postal_code",
                "country",
                "time_zone",
                "phone",
                "custom_fields",
                "status",
            ],
        )
        await conn.copy_records_to_table(
            "social_account",
            records=accounts,
            columns=[
                "agency_id",
                "id",
                "brand_id",
                "location_id",
                "platform",
                "external_id",
                "name",
                "kind",
                "status",
                "access_token",
                "token_key_id",
                "connected_at",
            ],
        )
        await conn.execute("ANALYZE location; ANALYZE social_account")
    finally:
        await conn.close()


async def _wait_fanned_out(conn: asyncpg.Connection, campaign: uuid.UUID) -> str:
    while True:
        status = await conn.fetchval("SELECT status FROM campaign WHERE id = $1", campaign)
        if status != "launching":
            return str(status)
        await asyncio.sleep(0.005)


async def _copy_seconds(conn: asyncpg.Connection, campaign: uuid.UUID) -> float:
    records = await conn.fetch("SELECT * FROM post WHERE campaign_id = $1 ORDER BY id", campaign)
    assert len(records) == LOCATIONS * len(CHANNELS), len(records)
    columns = list(records[0].keys())
    rows = [tuple(r.values()) for r in records]
    timings = []
    for _ in range(3):
        async with conn.transaction():
            await conn.execute(
                "CREATE TEMP TABLE post_copy (LIKE post INCLUDING ALL) ON COMMIT DROP"
            )
            started = time.perf_counter()
            await conn.copy_records_to_table("post_copy", records=rows, columns=columns)
            timings.append(time.perf_counter() - started)
    return min(timings)


async def main() -> None:
    async with fresh_database("fanout") as url:
        dsn = plain(url)
        with api_server(url) as base:
            async with aiohttp.ClientSession() as http:
                tenant = await sign_up(http, base)
                brand = await create_brand(http, base, tenant, "Slice & Co")
                template_id = await _template(http, base, tenant.headers, brand)
                await _locations_and_accounts(dsn, uuid.UUID(tenant.agency_id), uuid.UUID(brand))
                campaign_body = {
                    "name": "Pizza week",
                    "brand_id": brand,
                    "template_id": template_id,
                    "version": 1,
                    "audience": {"kind": "all"},
                    "channels": list(CHANNELS),
                    "schedule": {"kind": "local", "date": "2030-06-03", "time": "09:00"},
                    "variables": {"offer": "2 for 1 on Margheritas"},
                }
                async with http.post(
                    f"{base}/v1/campaigns", json=campaign_body, headers=tenant.headers
                ) as r:
                    campaign = uuid.UUID((await _json(r, 201))["id"])
                worker = _start_worker(url)
                conn = await asyncpg.connect(dsn)
                try:
                    started = time.perf_counter()
                    async with http.post(
                        f"{base}/v1/campaigns/{campaign}/launch", headers=tenant.headers
                    ) as r:
                        await _json(r, 202)
                    status = await _wait_fanned_out(conn, campaign)
                    seconds = time.perf_counter() - started
                    rss_mb = _peak_rss_mb(worker.pid)
                finally:
                    worker.terminate()
                    worker.wait(timeout=30)
                try:
                    counts = dict(
                        await conn.fetch(
                            "SELECT status, count(*) FROM post WHERE campaign_id = $1 "
                            "GROUP BY status",
                            campaign,
                        )
                    )
                    history = await conn.fetchval(
                        "SELECT count(*) FROM post_status_change h JOIN post p "
                        "ON p.id = h.post_id WHERE p.campaign_id = $1",
                        campaign,
                    )
                    sample = await conn.fetchval(
                        "SELECT text FROM post WHERE campaign_id = $1 LIMIT 1", campaign
                    )
                    assert status == "running", status
                    assert counts == {"scheduled": LOCATIONS * len(CHANNELS)}, counts
                    assert history == LOCATIONS * len(CHANNELS), history
                    copy = await _copy_seconds(conn, campaign)
                finally:
                    await conn.close()
    posts = LOCATIONS * len(CHANNELS)
    print(f"launch → {posts} posts written (worker process, arq job): {seconds:.3f} s")
    print(f"COPY of the same {posts} rows into a scratch post table: {copy:.3f} s (best of 3)")
    print(f"worker peak RSS: {rss_mb:.0f} MB; sample: {sample!r}")
    print(
        f"RESULT fanout seconds={seconds:.3f} copy_ratio={seconds / copy:.1f} rss_mb={rss_mb:.0f}"
    )


if __name__ == "__main__":
    if "--worker" in sys.argv:
        asyncio.run(_worker_main())
    else:
        asyncio.run(main())
