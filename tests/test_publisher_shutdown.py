"""A worker asked to stop (SIGTERM) hands back the posts still waiting behind a slow
platform's gate at once, finishes only the requests in flight, and exits well inside the
grace period; another worker then sends the rest, each exactly once. Real worker processes,
the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker.settings import BulkWorkerSettings, WorkerSettings
from shared.config import Settings
from tests.chaos import harness

LATENCY_S = 3.0
SHUTDOWN = harness.Scenario(
    name="shutdown",
    posts=40,
    locations=4,
    faults={"latency_ms": int(LATENCY_S * 1000)},
    env={
        "CHORUS_OUTBOUND_READ_TIMEOUT_SECONDS": "10",
        "CHORUS_PUBLISH_ATTEMPT_TIMEOUT_SECONDS": "20",
        "CHORUS_DISPATCH_INTERVAL_SECONDS": "0.2",
        "CHORUS_PUBLISH_CONCURRENCY_PER_PLATFORM": "2",
    },
    kills=False,
)


async def test_sigterm_hands_back_waiting_posts_and_exits_within_the_grace(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    sandbox_url: str,
    tmp_path: Path,
) -> None:
    agency_id, _ = await harness.prepare(client, admin_engine, SHUTDOWN, lambda _: None)
    await sandbox.put("/_sandbox/faults/x", json=SHUTDOWN.faults)
    redis = harness.RedisProcess()
    redis.start()
    env = harness.worker_env(settings, redis.url, sandbox_url, SHUTDOWN)
    first = harness.Workers(env, tmp_path)
    second = harness.Workers(env, tmp_path)
    try:
        first.start()
        for _ in range(300):  # requests in flight: two (the gate), the rest wait behind it
            if (await harness.statuses(admin_engine, agency_id)).get("publishing", 0) >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("nothing went out")
        (proc,) = first.procs
        asked = time.monotonic()
        first.stop()
        took = time.monotonic() - asked
        # Sending all 40 at two in flight would take a minute; the grace period is not used
        # for that: only the two requests in flight are waited for.
        assert took < LATENCY_S + 10, f"the worker took {took:.1f} s to stop"
        assert proc.returncode == 0
        after = await harness.statuses(admin_engine, agency_id)
        assert after.get("publishing", 0) == 0, after
        assert 2 <= after.get("published", 0) < SHUTDOWN.posts, after
        async with admin_engine.connect() as conn:
            held = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM post WHERE agency_id = :a AND status = 'queued' "
                        "AND (lease_token IS NOT NULL OR due_at > now())"
                    ),
                    {"a": agency_id},
                )
            ).scalar_one()
        assert held == 0, "waiting posts were not handed back"
        # Another worker sends the rest, fast now, each exactly once.
        await sandbox.put("/_sandbox/faults/x", json={})
        second.start()
        for _ in range(600):
            if (await harness.statuses(admin_engine, agency_id)).get(
                "published", 0
            ) == SHUTDOWN.posts:
                break
            await asyncio.sleep(0.1)
        counts = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
        assert len(counts) == SHUTDOWN.posts
        assert set(counts.values()) == {1}
        # An idle worker stops at once.
        asked = time.monotonic()
        second.stop()
        assert time.monotonic() - asked < 5
    finally:
        first.stop()
        second.stop()
        redis.stop()
        await sandbox.put("/_sandbox/faults/x", json={})


def _grace_seconds(service: str) -> int:
    """``stop_grace_period`` of a service in docker-compose.yml (read as text: two levels of
    indentation under ``services:``)."""
    compose = (Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text()
    block = re.search(rf"^  {re.escape(service)}:\n((?:    .*\n|\n)+)", compose, re.MULTILINE)
    assert block is not None, f"no {service} service in docker-compose.yml"
    grace = re.search(r"^    stop_grace_period: (\d+)s$", block.group(1), re.MULTILINE)
    assert grace is not None, f"{service} has no stop_grace_period"
    return int(grace.group(1))


def test_the_grace_period_outlasts_every_wait_of_the_worker() -> None:
    """No SIGKILL races a shutdown: the deployment waits longer than the worker may (which is
    itself longer than a publish attempt may take)."""
    settings = Settings()
    assert WorkerSettings.job_completion_wait > settings.publish_attempt_timeout_seconds
    assert _grace_seconds("worker") > WorkerSettings.job_completion_wait
    assert _grace_seconds("worker-bulk") > BulkWorkerSettings.job_completion_wait
