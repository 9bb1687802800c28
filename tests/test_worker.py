from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import JobStatus
from arq.worker import Worker

from services.worker import settings as worker_settings
from shared.config import Settings
from shared.jobs import (
    BULK_QUEUE,
    HEARTBEAT_KEY,
    JOB_COUNTS_KEY,
    QUEUE_NAME,
    URGENT_QUEUE,
    enqueue,
    queue_for,
)


async def test_burst_worker_runs_an_enqueued_job_and_counts_it(settings: Settings) -> None:
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        job = await enqueue(redis, "system.heartbeat", job_id="beat-1")
        duplicate = await enqueue(redis, "system.heartbeat", job_id="beat-1")
        assert job is not None
        assert duplicate is None  # same job id: not queued twice while it waits

        async def startup(ctx: dict[str, object]) -> None:
            await worker_settings.startup(ctx, settings)

        worker = Worker(
            functions=worker_settings.build_functions(),
            redis_pool=redis,
            queue_name=QUEUE_NAME,
            on_startup=startup,
            on_shutdown=worker_settings.shutdown,
            burst=True,
            poll_delay=0.05,
            handle_signals=False,
        )
        await worker.main()
        await worker.close()

        assert worker.jobs_complete == 1
        assert await redis.hget(JOB_COUNTS_KEY, "system.heartbeat:ok") == b"1"
        assert await redis.hlen(HEARTBEAT_KEY) == 1
        # No result is kept, so the finished job's id is free for the next run at once.
        assert await job.status() == JobStatus.not_found
        assert await enqueue(redis, "system.heartbeat", job_id="beat-1") is not None
    finally:
        await redis.aclose()


def test_worker_settings_shape() -> None:
    for ws in (worker_settings.WorkerSettings, worker_settings.BulkWorkerSettings):
        names = {f.name for f in ws.functions}
        assert "system.heartbeat" in names
        assert ws.job_completion_wait > 0  # graceful shutdown waits for running jobs
        assert ws.cron_jobs
        assert ws.keep_result == 0
    assert worker_settings.WorkerSettings.queue_name == URGENT_QUEUE
    assert worker_settings.BulkWorkerSettings.queue_name == BULK_QUEUE
    # Cron job ids are their names: the two workers' crons must not share one.
    urgent = {c.name for c in worker_settings.WorkerSettings.cron_jobs}
    bulk = {c.name for c in worker_settings.BulkWorkerSettings.cron_jobs}
    assert not urgent & bulk


def test_jobs_are_routed_to_their_queue_by_name() -> None:
    urgent = [
        "campaign.fan_out",
        "post.publish_batch",
        "reviews.send_reply",
        "mail.deliver",
        "social_account.refresh",
        "billing.process_stripe_event",
        "billing.sync_quantity",
        "system.heartbeat",
        "media.process",
    ]
    bulk = [
        "metrics.collect_due",
        "metrics.collect_account",
        "metrics.backfill_account",
        "metrics.collect_posts",
        "reviews.collect",
        "rollups.brand_daily",
        "exports.analytics_csv",
    ]
    assert {queue_for(n) for n in urgent} == {URGENT_QUEUE}
    assert {queue_for(n) for n in bulk} == {BULK_QUEUE}
    # Every job the workers know lands in a queue a worker drains.
    known = {f.name for f in worker_settings.build_functions()}
    assert known <= set(urgent) | set(bulk) | {
        "social_account.refresh_due",
        "reviews.sweep",
        "billing.sweep",
    }
