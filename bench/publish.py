"""A burst of 10,000 posts due at the same instant, published by one worker process through the
sandbox (50 ms per call), against bare arq no-op jobs on the same Redis.

    make bench NAME=publish          (or: python bench/publish.py with DATABASE_URL / REDIS_URL)

1. A fresh database; the API (one uvicorn process, used for the set-up) and the sandbox (its
   own process; every Facebook call takes 50 ms).
2. 100 locations, each with a Facebook page connected through the connector's real OAuth
   against the sandbox (a page may take 4,800 calls a day: 100 posts per page), and 10,000
   posts due at the same instant T, a few seconds ahead.
3. One worker process (``arq services.worker.settings.WorkerSettings``: its dispatcher loop
   leases due posts, publish jobs carry 100 posts each) publishes them. Lateness is
   ``published_at - T`` per post; throughput is 10,000 over the time from T to the last one.
   Checked: every post ``published``, and the sandbox holds each one exactly once.
4. Bare arq: 10,000 no-op jobs (each only bumps a counter) enqueued, then one worker with the
   same settings (20 jobs at a time) runs them; jobs per second from the first to the last.

5. The slow run (issue #12): the same burst on a fresh database, the sandbox answering every
   call in 2 s and the worker allowed 50 calls in flight per platform, so the burst must wait
   (about 25 posts/s at best: some 400 s for the last). Posts wait behind the gate far longer
   than any lease; none may go out twice.

Ends with ``RESULT publish posts_per_s=<p> p99_lateness_s=<s> arq_ratio=<posts_per_s / arq
jobs_per_s> slow_doubled=<posts the sandbox holds more than once> slow_p99_lateness_s=<s>``.
Targets: every post published, p99 lateness <= 10 s, slow_doubled=0.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg
from arq.connections import RedisSettings, create_pool

from bench._common import (
    ROOT,
    api_server,
    cpu_seconds,
    create_brand,
    free_port,
    fresh_database,
    plain,
    redis_url,
    sign_up,
)

POSTS = 10_000
PAGES = 100
LATENCY_MS = 50
LEAD_S = 6.0
NOOP_QUEUE = "bench:noop"
NOOP_COUNT = "bench:noop:count"
NOOP_FIRST = "bench:noop:first"
NOOP_LAST = "bench:noop:last"
SCRIPT = str(Path(__file__).resolve())
REDIRECT = "https://chorus.bench/v1/social-accounts/oauth/callback"


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env})


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as answer:
                    if answer.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def _connect_pages(sandbox: str) -> list[tuple[str, str]]:
    """(page id, page token) for PAGES pages, through the connector's OAuth."""
    from shared.config import Settings
    from shared.crypto import Sealed
    from shared.http import OutboundHttp
    from shared.platforms.facebook import FacebookConnector
    from shared.platforms.types import AppCredentials

    http = OutboundHttp(Settings(env="development", platform_sandbox_url=sandbox))
    connector = FacebookConnector(
        AppCredentials("chorus-bench", Sealed("bench")), sandbox_url=sandbox, http=http
    )
    pages: list[tuple[str, str]] = []
    async with aiohttp.ClientSession() as browser:
        while len(pages) < PAGES:
            request = connector.authorize_url("bench", REDIRECT)
            async with browser.get(request.url, allow_redirects=False) as answer:
                code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
            grant = await connector.exchange_code(code, REDIRECT, None)
            for choice in grant.choices:
                assert choice.access_token is not None
                pages.append((choice.external_id, choice.access_token.reveal()))
    await http.close()
    return pages[:PAGES]


async def _setup(dsn: str, base: str, sandbox: str, due: datetime) -> tuple[uuid.UUID, list[str]]:
    from shared.config import Settings
    from shared.crypto import Sealed, keyring_from_settings
    from shared.ids import new_id
    from shared.social_accounts import sealing
    from shared.social_accounts.models import SocialAccount

    async with aiohttp.ClientSession() as http:
        tenant = await sign_up(http, base)
        headers = tenant.headers
        brand = await create_brand(http, base, tenant, "Burst")
        async with http.post(
            f"{base}/v1/templates",
            json={"brand_id": brand, "name": "Burst", "bodies": {"default": "Burst"}},
            headers=headers,
        ) as r:
            template = (await r.json())["template_id"]
        async with http.post(
            f"{base}/v1/templates/{template}/versions/1/publish", headers=headers
        ) as r:
            assert r.status == 200
    agency = uuid.UUID(tenant.agency_id)
    pages = await _connect_pages(sandbox)
    keyring = keyring_from_settings(Settings(env="development"))
    now = datetime.now(UTC)
    locations, accounts = [], []
    for n, (page_id, token) in enumerate(pages):
        location = new_id()
        locations.append(
            (agency, location, uuid.UUID(brand), f"Burst {n}", "GB", "Europe/London", "active")
        )
        account = SocialAccount(id=new_id(), agency_id=agency, location_id=location)
        sealing.store_tokens(
            account,
            keyring,
            access_token=Sealed(token),
            refresh_token=None,
            expires_at=None,
            refresh_expires_at=None,
        )
        accounts.append(
            (agency, account.id, uuid.UUID(brand), location, "facebook", page_id, f"Page {n}",
             "page", "connected", account.access_token, account.token_key_id, now)
        )  # fmt: skip
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "location",
            records=locations,
            columns=["agency_id", "id", "brand_id", "name", "country", "time_zone", "status"],
        )
        await conn.copy_records_to_table(
            "social_account",
            records=accounts,
            columns=["agency_id", "id", "brand_id", "location_id", "platform", "external_id",
                     "name", "kind", "status", "access_token", "token_key_id", "connected_at"],
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO post (agency_id, id, brand_id, location_id, template_id,
                template_version, platform, text, status, status_reason, scheduled_at,
                due_at, publish_deadline)
            SELECT $1, gen_random_uuid(), $2, l.id, $3, 1, 'facebook',
                'Burst ' || g || ' at ' || l.name, 'scheduled', 'bench', $4, $4, $5
            FROM location l CROSS JOIN generate_series(1, $6) AS g
            WHERE l.agency_id = $1
            """,
            agency,
            uuid.UUID(brand),
            uuid.UUID(template),
            due,
            due + timedelta(hours=1),
            POSTS // PAGES,
        )
        ids = [str(r["id"]) for r in await conn.fetch("SELECT id FROM post")]
    finally:
        await conn.close()
    return agency, ids


SLOW_LATENCY_MS = 2000
SLOW_CONCURRENCY = 50


@dataclass
class Run:
    posts_per_s: float
    p99: float
    last: float
    doubled: int


async def _set_latency(sandbox: str, latency_ms: int) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.put(f"{sandbox}/_sandbox/faults/facebook", json={"latency_ms": latency_ms}) as r,
    ):
        assert r.status == 200


async def _publish_run(
    dsn: str, database: Any, sandbox: str, *, latency_ms: int, env: dict[str, str], wait_s: float
) -> Run:
    due = datetime.now(UTC) + timedelta(seconds=60)  # moved closer once the worker is up
    await _set_latency(sandbox, 0)  # the set-up's OAuth calls are not what is measured
    with api_server(database) as base:
        agency, ids = await _setup(dsn, base, sandbox, due)
    await _set_latency(sandbox, latency_ms)
    conn = await asyncpg.connect(dsn)
    worker = _start(
        [sys.executable, "-m", "arq", "services.worker.settings.WorkerSettings"],
        {
            "DATABASE_URL": plain(database),
            "REDIS_URL": redis_url(),
            "CHORUS_ENV": "development",
            "CHORUS_LOG_LEVEL": "WARNING",
            "CHORUS_PLATFORM_SANDBOX_URL": sandbox,
            "PYTHONPATH": str(ROOT),
            **{
                k: v
                for k, v in os.environ.items()
                if k.startswith(("CHORUS_PUBLISH", "CHORUS_OUTBOUND", "CHORUS_DISPATCH"))
            },
            **env,
        },
    )
    try:
        await asyncio.sleep(3)  # the worker starts and idles
        due = datetime.now(UTC) + timedelta(seconds=LEAD_S)
        await conn.execute("UPDATE post SET scheduled_at = $1, due_at = $1", due)
        print(f"  {POSTS} posts due at {due.time()} over {PAGES} pages; one worker process")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            left = await conn.fetchval(
                "SELECT count(*) FROM post WHERE status NOT IN "
                "('published', 'failed', 'skipped', 'cancelled')"
            )
            if left == 0:
                break
        rows = await conn.fetch(
            "SELECT status, extract(epoch FROM published_at - scheduled_at) AS late "
            "FROM post ORDER BY late"
        )
        used = cpu_seconds(worker.pid)
        if used is not None:
            print(f"  worker CPU: {used:.1f} s ({1000 * used / POSTS:.2f} ms per post)")
    finally:
        _stop(worker)
        await conn.close()
    statuses = {r["status"] for r in rows}
    if statuses != {"published"}:
        raise SystemExit(f"not every post was published: {statuses}")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sandbox}/_sandbox/publish-counts/facebook") as r,
    ):
        counts: dict[str, int] = (await r.json())["counts"]
    doubled = sum(1 for i in ids if counts.get(i, 0) > 1)
    if any(counts.get(i, 0) == 0 for i in ids):
        raise SystemExit("the sandbox is missing posts Chorus says are published")
    if doubled:
        print(f"  !! {doubled} posts reached the sandbox more than once")
    late = sorted(float(r["late"]) for r in rows)
    p50, p99, last = late[len(late) // 2], late[int(len(late) * 0.99) - 1], late[-1]
    posts_per_s = POSTS / last
    print(
        f"  published all {POSTS} (each once at the sandbox): lateness p50 {p50:.2f} s, "
        f"p99 {p99:.2f} s, last {last:.2f} s → {posts_per_s:.0f} posts/s"
    )
    _ = agency
    return Run(posts_per_s, p99, last, doubled)


async def _noop(ctx: dict[str, Any]) -> None:
    redis = ctx["redis"]
    now = time.time()
    await redis.set(NOOP_FIRST, now, nx=True)
    await redis.set(NOOP_LAST, now)
    await redis.incr(NOOP_COUNT)


class NoopWorker:
    """The bare-arq worker, tuned for its best: many jobs at a time, a short poll."""

    functions = [_noop]
    queue_name = NOOP_QUEUE
    redis_settings = RedisSettings.from_dsn(redis_url())
    max_jobs = 200
    poll_delay = 0.01
    keep_result = 3600


async def _arq_run() -> float:
    redis = await create_pool(RedisSettings.from_dsn(redis_url()))
    try:
        await redis.delete(NOOP_QUEUE, NOOP_COUNT, NOOP_FIRST, NOOP_LAST)
        for _ in range(POSTS):
            await redis.enqueue_job("_noop", _queue_name=NOOP_QUEUE)
        worker = _start(
            [sys.executable, SCRIPT, "--noop-worker"],
            {"PYTHONPATH": str(ROOT), "REDIS_URL": redis_url()},
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                if int(await redis.get(NOOP_COUNT) or 0) >= POSTS:
                    break
        finally:
            _stop(worker)
        first = float(await redis.get(NOOP_FIRST) or 0)
        last = float(await redis.get(NOOP_LAST) or 0)
        done = int(await redis.get(NOOP_COUNT) or 0)
        await redis.delete(NOOP_QUEUE, NOOP_COUNT, NOOP_FIRST, NOOP_LAST)
    finally:
        await redis.aclose()
    rate = done / (last - first) if last > first else 0.0
    print(f"  bare arq: {done} no-op jobs, {rate:.0f} jobs/s")
    return rate


async def main() -> None:
    port = free_port()
    sandbox = f"http://127.0.0.1:{port}"
    sandbox_process = _start(
        [sys.executable, "-m", "uvicorn", "services.sandbox.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
         "--log-level", "warning"],
        {},
    )  # fmt: skip
    try:
        await _ready(f"{sandbox}/_sandbox/platforms")
        async with fresh_database("publish") as database:
            fast = await _publish_run(
                plain(database), database, sandbox, latency_ms=LATENCY_MS, env={}, wait_s=180
            )
        if fast.doubled:
            raise SystemExit("the sandbox does not hold every post exactly once")
        arq_rate = await _arq_run()
        print(
            f"  slow platform: every call {SLOW_LATENCY_MS} ms, "
            f"{SLOW_CONCURRENCY} in flight per platform"
        )
        async with fresh_database("publish_slow") as database:
            slow = await _publish_run(
                plain(database),
                database,
                sandbox,
                latency_ms=SLOW_LATENCY_MS,
                env={"CHORUS_PUBLISH_CONCURRENCY_PER_PLATFORM": str(SLOW_CONCURRENCY)},
                wait_s=POSTS / SLOW_CONCURRENCY * SLOW_LATENCY_MS / 1000 * 2 + 120,
            )
    finally:
        _stop(sandbox_process)
    print(
        f"RESULT publish posts_per_s={fast.posts_per_s:.0f} p99_lateness_s={fast.p99:.2f} "
        f"arq_ratio={fast.posts_per_s / arq_rate:.2f} slow_doubled={slow.doubled} "
        f"slow_p99_lateness_s={slow.p99:.2f}"
    )


def _noop_worker() -> None:
    """The bare-arq worker, logging warnings only (as Chorus's worker runs here): arq's
    per-job INFO lines would otherwise cost more than the jobs."""
    import logging

    from arq.worker import run_worker

    logging.basicConfig(level=logging.WARNING)
    run_worker(NoopWorker)  # type: ignore[arg-type]


if __name__ == "__main__":
    if sys.argv[1:] == ["--noop-worker"]:
        _noop_worker()
    else:
        asyncio.run(main())
