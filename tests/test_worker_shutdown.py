from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from arq.connections import RedisSettings, create_pool
from arq.jobs import JobStatus

from shared.config import Settings
from shared.jobs import enqueue
from tests.support.slow_worker import STARTED_KEY

ROOT = Path(__file__).resolve().parent.parent


async def test_sigterm_lets_the_running_job_finish(settings: Settings) -> None:
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    env = {
        **os.environ,
        "CHORUS_REDIS_URL": settings.redis_url,
        "CHORUS_DATABASE_URL": settings.database_url,
        "CHORUS_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arq",
        "tests.support.slow_worker.SlowWorkerSettings",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        job = await enqueue(redis, "test.slow", 1.5, job_id="slow-1")
        assert job is not None
        for _ in range(200):
            if await redis.get(STARTED_KEY):
                break
            await asyncio.sleep(0.05)
        else:
            proc.kill()
            _, err = await proc.communicate()
            raise AssertionError(f"worker never started the job: {err.decode()[-3000:]}")
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert await job.status() == JobStatus.complete
        assert await job.result(timeout=1) == "finished"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await redis.aclose()
