"""Review helpers: a shop with a review source and a worker collecting its reviews."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from services.worker import settings as worker_settings
from services.worker.jobs import reviews as review_jobs
from services.worker.registry import job
from shared.config import Settings
from shared.db import Database
from shared.jobs import BULK_QUEUE, URGENT_QUEUE
from shared.metrics.service import BACKFILL_JOB
from shared.publishing.limiter import AccountLimiter
from shared.reviews import COLLECT_JOB, SEND_REPLY_JOB, SWEEP_JOB
from shared.reviews.collection import Collector, sweep
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.social_accounts import connect


@dataclass
class Shop:
    owner: Tenant
    brand: dict[str, Any]
    location: dict[str, Any]
    account: dict[str, Any]
    source_id: uuid.UUID
    collector: Collector

    async def collect(self) -> Any:
        return await self.collector.collect(self.owner.agency_id, self.source_id, force=True)


async def open_shop(
    client: httpx.AsyncClient,
    db: Database,
    redis: Redis,
    settings: Settings,
    platform: str = "google_business",
    owner: Tenant | None = None,
    brand: dict[str, Any] | None = None,
) -> Shop:
    owner = owner or await sign_up(client)
    brand = brand or await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name="Main Street")
    account = await connect(client, owner.headers, location["id"], platform)
    async with db.transaction() as session:
        await sweep(session, now=datetime.now(UTC))
    sources = await client.get(
        f"/v1/locations/{location['id']}/review-sources", headers=owner.headers
    )
    (source,) = sources.json()
    shop = Shop(
        owner, brand, location, account, uuid.UUID(source["id"]),
        Collector(db, AccountLimiter(redis), settings),
    )  # fmt: skip
    assert (await shop.collect()).outcome == "collected"
    return shop


async def run_worker(arq_redis: ArqRedis, settings: Settings) -> int:
    """Burst workers with the review jobs: run what is queued, then stop. Collections go to the
    bulk queue and replies to the urgent one, so both are drained (urgent, bulk, urgent: a
    collection may queue an auto-reply)."""

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, settings, start_loops=False)

    complete = 0
    for queue in (URGENT_QUEUE, BULK_QUEUE, URGENT_QUEUE):
        worker = Worker(
            functions=[
                job(SWEEP_JOB, review_jobs.sweep),
                job(COLLECT_JOB, review_jobs.collect),
                job(SEND_REPLY_JOB, review_jobs.send_reply),
                job(BACKFILL_JOB, _no_backfill),
            ],
            redis_pool=arq_redis,
            queue_name=queue,
            on_startup=startup,
            on_shutdown=worker_settings.shutdown,
            burst=True,
            poll_delay=0.05,
            handle_signals=False,
        )
        await worker.main()
        await worker.close()
        complete += worker.jobs_complete
    return complete


async def _no_backfill(ctx: dict[str, Any], *args: Any) -> None:
    """Connecting an account queued its metrics backfill: not what these tests are about."""
