"""Background loops every worker process runs beside its jobs: the dispatcher (due posts →
publish jobs) and the outbox relay. Several workers run them at once safely: each pass
takes its rows with ``SKIP LOCKED``.

They are loops rather than arq crons because a cron's smallest step is a second and a cron
run that overlaps the next is skipped; a loop goes again at once when it found a full batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from arq.connections import ArqRedis
from sqlalchemy import text

from shared import clock
from shared.campaigns.fanout import FAN_OUT_JOB
from shared.config import Settings
from shared.db import Database
from shared.events.relay import Relay
from shared.jobs import enqueue
from shared.publishing.dispatcher import SCAN, lease_due

log = structlog.get_logger("chorus.worker")

PUBLISH_JOB = "post.publish_batch"
SWEEP_EVERY_S = 5.0
PASS_TIMEOUT_S = 30.0
STALLED_LAUNCH_S = 60.0

Sweep = Callable[[Database, datetime], Awaitable[int]]


class Loops:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        redis: ArqRedis,
        relay: Relay,
        sweeps: list[Sweep] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.relay = relay
        self.sweeps = sweeps or []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._forever("dispatch", self.dispatch_once)),
            asyncio.create_task(self._forever("relay", self.relay_once)),
            asyncio.create_task(self._forever("sweep", self.sweep_once, SWEEP_EVERY_S)),
        ]

    def stop_soon(self) -> None:
        """No new pass starts (the worker is stopping); :meth:`stop` waits for them."""
        self._stopping.set()

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _forever(
        self, name: str, once: Callable[[], Awaitable[bool]], interval: float | None = None
    ) -> None:
        pause = interval if interval is not None else self.settings.dispatch_interval_seconds
        while not self._stopping.is_set():
            more = False
            try:
                # A frozen Redis has no read timeout in arq's pool: a pass never waits forever
                # (what it leased and did not hand on comes back when its lease runs out).
                async with asyncio.timeout(PASS_TIMEOUT_S):
                    more = await once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database or Redis hiccup (or a pass cut off): log, wait, go on
                log.exception("worker.loop_failed", loop=name)
                more = False
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=pause)

    async def dispatch_once(self) -> bool:
        """Lease what is due and enqueue it; True when the pass was full (go again now)."""
        s = self.settings
        started = time.perf_counter()
        async with self.db.transaction() as session:
            leases = await lease_due(
                session,
                now=clock.now(),
                limit=s.dispatch_limit,
                lease_for=timedelta(seconds=s.queue_lease_seconds),
                batch_size=s.publish_batch_size,
                per_platform=s.dispatch_held_per_platform,
            )
        leased = sum(len(lease.post_ids) for lease in leases)
        for n, lease in enumerate(leases):
            try:
                await enqueue(
                    self.redis,
                    PUBLISH_JOB,
                    str(lease.token),
                    str(lease.agency_id),
                    [str(i) for i in lease.post_ids],
                    job_id=f"publish:{lease.token}:{n}",
                )
            except Exception:  # Redis away: the leases run out and the posts come back
                log.warning("dispatch.enqueue_failed", posts=len(lease.post_ids), exc_info=True)
        if leased:
            log.info(
                "dispatch.leased",
                posts=leased,
                jobs=len(leases),
                ms=round(1000 * (time.perf_counter() - started), 1),
            )
        # Posts leave as their platform has room: while a pass finds room for a batch or more,
        # the next goes at once instead of after the interval.
        return leased >= min(s.dispatch_limit, s.publish_batch_size)

    async def relay_once(self) -> bool:
        async with self.db.transaction() as session:
            relayed = await self.relay.relay_once(session, limit=500)
        return relayed >= 500

    async def sweep_once(self) -> bool:
        now = clock.now()
        for sweep in self.sweeps:
            await sweep(self.db, now)
        await self.relaunch_stalled(now)
        return False

    async def relaunch_stalled(self, now: datetime) -> int:
        """A campaign ``launching`` with no progress for a while lost its fan-out job (a
        killed worker, a Redis restart): enqueue it again. The fan-out resumes where its
        posts say it was and writes nothing twice; the job id names the stall, so a job
        still queued or running is not doubled."""
        async with self.db.transaction() as session:
            await session.execute(
                text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN}
            )
            rows = (
                await session.execute(
                    text(
                        "SELECT agency_id, id, updated_at FROM campaign "
                        "WHERE status = 'launching' AND updated_at < :stalled"
                    ),
                    {"stalled": now - timedelta(seconds=STALLED_LAUNCH_S)},
                )
            ).all()
        for agency_id, campaign_id, updated_at in rows:
            await enqueue(
                self.redis,
                FAN_OUT_JOB,
                str(agency_id),
                str(campaign_id),
                job_id=f"fanout:{campaign_id}:{int(updated_at.timestamp())}",
            )
        if rows:
            log.warning("campaign.relaunched", count=len(rows))
        return len(rows)
