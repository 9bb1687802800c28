"""Numbers appear soon: an account's past month within a minute or so of connecting, a post's
own numbers a few minutes after it is published (one deferred collection per account and
five-minute window, however many posts), on the bulk queue, through the real jobs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker

from services.worker import settings as worker_settings
from services.worker.settings import build_relay
from shared.config import Settings
from shared.db import Database
from shared.jobs import BULK_QUEUE, URGENT_QUEUE
from shared.metrics import service
from shared.publishing.publisher import Publisher
from tests.factories import create_brand, create_location, sign_up
from tests.support.publishing import Shop, cycle, post
from tests.support.social_accounts import connect


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield pool
    await pool.aclose()


async def _run_bulk_queue(arq_redis: ArqRedis, settings: Settings) -> Worker:
    """A bulk worker in burst mode: runs what is due now, then stops."""

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, settings, start_loops=False)

    worker = Worker(
        functions=worker_settings.build_functions(),
        redis_pool=arq_redis,
        queue_name=BULK_QUEUE,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    await worker.main()
    await worker.close()
    return worker


async def _queued(arq_redis: ArqRedis) -> dict[str, float]:
    """Job id → when it is due (epoch seconds), on the bulk queue."""
    rows = await arq_redis.zrange(BULK_QUEUE, 0, -1, withscores=True)
    return {job_id.decode(): score / 1000 for job_id, score in rows}


async def _relay(settings: Settings, app_db: Database, arq_redis: ArqRedis) -> int:
    relay = build_relay(settings, arq_redis)
    async with app_db.transaction() as session:
        return await relay.relay_once(session)


async def test_an_accounts_numbers_show_once_the_collection_queued_by_connecting_runs(
    client: httpx.AsyncClient,
    settings: Settings,
    arq_redis: ArqRedis,
    sandbox: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    summary_url = f"/v1/brands/{brand['id']}/analytics/summary"
    before = await client.get(summary_url, headers=owner.headers)
    assert before.json()["totals"]["impressions"] is None

    await connect(client, owner.headers, location["id"], "instagram")
    queued = await _queued(arq_redis)
    assert [job.split(":")[0] for job in queued] == [service.BACKFILL_JOB]
    assert list(queued.values())[0] <= datetime.now(UTC).timestamp() + 1  # due at once
    assert await arq_redis.zcard(URGENT_QUEUE) == 0  # never ahead of the urgent work

    worker = await _run_bulk_queue(arq_redis, settings)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)

    after = (await client.get(summary_url, headers=owner.headers)).json()
    assert after["totals"]["impressions"] > 0
    assert after["totals"]["days_with_data"] == service.BACKFILL_DAYS
    assert [p["platform"] for p in after["by_platform"]] == ["instagram"]
    theirs = await client.get("/v1/analytics/summary", headers=other.headers)
    assert theirs.json()["totals"]["impressions"] is None


async def test_a_posts_numbers_show_after_the_deferred_collection_runs(
    client: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
    sandbox: httpx.AsyncClient,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    await arq_redis.delete(BULK_QUEUE)  # the connection's backfill is not what this is about
    made = [await post(client, shop, "x", offer) for offer in ("2 for 1", "Free drink", "Pie")]
    assert await cycle(app_db, publisher) == 3
    published_at = datetime.now(UTC).timestamp()

    assert await _relay(settings, app_db, arq_redis) >= 3  # with the account's own events
    queued = await _queued(arq_redis)
    [job_id] = queued  # three posts of one account: one collection
    assert job_id.startswith(f"{service.POSTS_JOB}:{account['id']}:")
    assert 5 * 60 - 1 <= queued[job_id] - published_at <= 10 * 60 + 1
    for one in made:
        shown = await client.get(f"/v1/posts/{one['id']}/metrics", headers=shop.owner.headers)
        assert shown.json()["collected_at"] is None

    # The minutes pass (the job's due time is moved, not waited for); the bulk worker runs it.
    await arq_redis.zadd(BULK_QUEUE, {job_id: datetime.now(UTC).timestamp() * 1000})
    worker = await _run_bulk_queue(arq_redis, settings)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    for one in made:
        shown = await client.get(f"/v1/posts/{one['id']}/metrics", headers=shop.owner.headers)
        assert shown.status_code == 200, shown.text
        assert shown.json()["collected_at"] is not None
        assert shown.json()["impressions"] is not None
    # The account's daily numbers are left to their own schedule.
    summary = await client.get(
        f"/v1/brands/{shop.brand['id']}/analytics/summary", headers=shop.owner.headers
    )
    assert summary.json()["totals"]["impressions"] is None


async def test_follow_ups_are_one_per_account_and_window(
    client: httpx.AsyncClient,
    app_db: Database,
    arq_redis: ArqRedis,
    sandbox: httpx.AsyncClient,
    publisher: Publisher,
    shop: Shop,
) -> None:
    account = await connect(client, shop.owner.headers, shop.location["id"], "x")
    await arq_redis.delete(BULK_QUEUE)
    made = [await post(client, shop, "x", offer) for offer in ("One", "Two")]
    assert await cycle(app_db, publisher) == 2
    post_ids = [uuid.UUID(m["id"]) for m in made]
    window = datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)

    async def follow_up(post_ids: list[uuid.UUID], at: datetime, *, fail: bool = False) -> int:
        async with app_db.transaction(shop.owner.agency_id) as session:
            count = await service.follow_up_published(
                session, arq_redis, shop.owner.agency_id, post_ids, now=at
            )
            if fail:
                raise RuntimeError("the relay's transaction rolled back")
        return count

    with pytest.raises(RuntimeError):
        await follow_up(post_ids, window, fail=True)
    assert await _queued(arq_redis) == {}  # nothing leaves before the commit

    # Events of one window, relayed in separate passes: one job.
    assert await follow_up(post_ids[:1], window) == 1
    assert await follow_up(post_ids[1:], window + timedelta(minutes=4)) == 1
    first, due = service.posts_job(uuid.UUID(account["id"]), window)
    assert await _queued(arq_redis) == {first: due.timestamp()}
    assert due == datetime(2026, 12, 7, 9, 10, tzinfo=UTC)
    # The next window gets its own.
    assert await follow_up(post_ids, window + timedelta(minutes=5)) == 1
    assert len(await _queued(arq_redis)) == 2
    # A post that has not gone out asks for nothing.
    draft = await post(client, shop, "x", "Later", scheduled_at="2030-01-01T09:00:00Z")
    assert await follow_up([uuid.UUID(draft["id"])], window + timedelta(hours=1)) == 0
