"""Run a real publishing worker in the test and wait for what it does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker

from services.worker import settings as worker_settings
from shared.config import Settings
from shared.jobs import QUEUE_NAME


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **overrides: Any) -> AsyncIterator[None]:
    """A worker in this process: jobs from the queue, the dispatcher and relay loops, as many
    jobs at once as the urgent worker runs. Jobs queued before it are dropped: this is about
    publishing, and a job still running at the end would be cancelled mid-way. ``overrides``
    change its settings."""
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    await redis.delete(QUEUE_NAME)
    fast = settings.model_copy(update={"dispatch_interval_seconds": 0.1, **overrides})

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, fast)

    worker = Worker(
        functions=worker_settings.build_functions(),
        redis_pool=redis,
        queue_name=QUEUE_NAME,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        poll_delay=0.05,
        handle_signals=False,
        max_jobs=worker_settings.WorkerSettings.max_jobs,
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Whatever arq's close managed, no loop of this worker may outlive the test.
        wctx = worker.ctx.get("chorus")
        if wctx is not None and wctx.loops is not None:
            await wctx.loops.stop()
        await redis.aclose()


async def wait_for(check: Any, seconds: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)
