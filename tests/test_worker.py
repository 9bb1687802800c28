from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker

from services.worker import settings as worker_settings
from shared.config import Settings
from shared.jobs import HEARTBEAT_KEY, JOB_COUNTS_KEY, QUEUE_NAME, enqueue


async def test_burst_worker_runs_an_enqueued_job_and_counts_it(settings: Settings) -> None:
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        job = await enqueue(redis, "system.heartbeat", job_id="beat-1")
        duplicate = await enqueue(redis, "system.heartbeat", job_id="beat-1")
        assert job is not None
        assert duplicate is None  # same job id: not queued twice

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
        assert await job.result(timeout=5)
        assert await redis.hget(JOB_COUNTS_KEY, "system.heartbeat:ok") == b"1"
        assert await redis.hlen(HEARTBEAT_KEY) == 1
    finally:
        await redis.aclose()


def test_worker_settings_shape() -> None:
    ws = worker_settings.WorkerSettings
    names = {f.name for f in ws.functions}
    assert "system.heartbeat" in names
    assert ws.job_completion_wait > 0  # graceful shutdown waits for running jobs
    assert ws.cron_jobs
