"""The worker's loops under a frozen Redis (SIGSTOP: no answer, no error). arq's pool has no
read timeout, so without a bound a dispatcher pass would wait forever and no post would go
out again, even after Redis came back. A pass is cut off instead, the loop goes on, and the
post it had leased is handed on once Redis answers again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from services.worker import loops as loops_module
from services.worker.loops import Loops
from shared.config import Settings
from shared.db import Database
from shared.events.relay import Relay
from shared.jobs import URGENT_QUEUE
from tests.support.outages import DedicatedRedis
from tests.support.publish_isolation import insert_posts

pytestmark = pytest.mark.slow


@pytest.fixture
def frozen_redis(tmp_path: Path) -> Iterator[DedicatedRedis]:
    server = DedicatedRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def _queued_post_ids(redis: ArqRedis) -> set[str]:
    ids: set[str] = set()
    for job in await redis.queued_jobs(queue_name=URGENT_QUEUE):
        ids.update(job.args[2])
    return ids


async def test_a_frozen_redis_never_stalls_the_dispatcher(
    client: httpx.AsyncClient,
    admin_engine: Any,
    app_db: Database,
    settings: Settings,
    frozen_redis: DedicatedRedis,
    chain: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loops_module, "PASS_TIMEOUT_S", 1.0)
    redis = await create_pool(RedisSettings.from_dsn(frozen_redis.url))
    loops = Loops(
        settings.model_copy(update={"dispatch_interval_seconds": 0.1, "queue_lease_seconds": 1}),
        app_db,
        redis,
        Relay(),
    )
    passes = 0
    dispatch = loops.dispatch_once

    async def counted() -> bool:
        nonlocal passes
        passes += 1
        return await dispatch()

    frozen_redis.freeze()
    (post_id,) = await insert_posts(admin_engine, chain, chain["nyc"], "x", 1)
    task = asyncio.create_task(loops._forever("dispatch", counted))
    try:
        await asyncio.sleep(3.5)
        # Each pass leased the post and hung on Redis: cut off after a second, the next one
        # started (a pass without the bound would still be waiting).
        assert passes >= 3
        frozen_redis.thaw()
        for _ in range(100):
            if post_id in await _queued_post_ids(redis):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the post was not handed on once Redis answered again")
        assert not task.done()
    finally:
        frozen_redis.thaw()
        await loops.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await redis.aclose()
