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
from tests.support.clock import TestClock
from tests.support.outages import DedicatedRedis
from tests.support.publish_isolation import insert_posts
from tests.support.publish_worker import wait_for

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
    clock: TestClock,
) -> None:
    """The cut-off is a real timeout on the event loop's own clock (it bounds a read that
    never ends), so it stays real, only short; the lease the hung pass took runs out on
    Chorus's clock, which the test moves forward instead of waiting for it."""
    monkeypatch.setattr(loops_module, "PASS_TIMEOUT_S", 0.2)
    lease_s = 60
    redis = await create_pool(RedisSettings.from_dsn(frozen_redis.url))
    loops = Loops(
        settings.model_copy(
            update={"dispatch_interval_seconds": 0.05, "queue_lease_seconds": lease_s}
        ),
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

    async def three_passes() -> bool:
        return passes >= 3

    frozen_redis.freeze()
    (post_id,) = await insert_posts(admin_engine, chain, chain["nyc"], "x", 1)
    task = asyncio.create_task(loops._forever("dispatch", counted))
    try:
        # The first pass leased the post and hung on Redis: cut off, the next ones ran (a pass
        # without the bound would still be waiting, and this would time out).
        await wait_for(three_passes)
        frozen_redis.thaw()
        monkeypatch.setattr(loops_module, "PASS_TIMEOUT_S", 30.0)  # a healthy pass is never cut
        clock.advance(lease_s)  # the hung pass's lease runs out: the post is due again

        async def handed_on() -> bool:
            return post_id in await _queued_post_ids(redis)

        await wait_for(handed_on)  # "the post was not handed on once Redis answered again"
        assert not task.done()
    finally:
        frozen_redis.thaw()
        await loops.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await redis.aclose()
