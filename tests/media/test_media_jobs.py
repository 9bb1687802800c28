"""The media jobs as the worker runs them, against real PostgreSQL, Redis and both storage
back-ends: processing through the queue, a storage outage retried, lost uploads handed back
by the sweep, deleted media and unnamed files purged with their objects."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from arq import Retry
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker import settings as worker_settings
from services.worker.context import WorkerContext
from services.worker.jobs import media as media_jobs
from shared.config import Settings
from shared.content.media import MediaKind
from shared.db import Database
from shared.jobs import URGENT_QUEUE
from shared.media import derivative_store, housekeeping, images, processing
from shared.media import service as media_service
from shared.media.derivatives import Target, targets_for
from shared.media.storage import Storage
from shared.media.storage.s3 import S3Storage
from shared.platforms.registry import PLATFORM_NAMES
from tests.media.files import write_phone_jpeg
from tests.media.uploads import (
    blob_row,
    count_rows,
    make_agency,
    media_row,
    upload_media,
)
from tests.support.sandbox_server import free_port


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield pool
    await pool.aclose()


def _ctx(settings: Settings, app_db: Database, redis: ArqRedis, storage: Storage) -> dict[str, Any]:
    ctx: dict[str, Any] = {"redis": redis, "job_try": 1, media_jobs.STORAGE_KEY: storage}
    WorkerContext(settings=settings, db=app_db, redis=redis).install(ctx)
    return ctx


async def _run_queue(arq_redis: ArqRedis, settings: Settings, storage: Storage) -> None:
    """An urgent worker in burst mode with the test's storage: runs what is due, stops."""

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, settings, start_loops=False)
        ctx[media_jobs.STORAGE_KEY] = storage

    worker = Worker(
        functions=worker_settings.build_functions(),
        redis_pool=arq_redis,
        queue_name=URGENT_QUEUE,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    await worker.main()
    await worker.close()


async def _queued(arq_redis: ArqRedis) -> set[str]:
    return {job_id.decode() for job_id in await arq_redis.zrange(URGENT_QUEUE, 0, -1)}


async def _age(engine: AsyncEngine, table: str, where: str, params: dict[str, Any]) -> None:
    """Move a row's timestamps an hour and a half into the past."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"UPDATE {table} SET created_at = now() - interval '90 minutes', "
                f"updated_at = now() - interval '90 minutes' WHERE {where}"
            ),
            params,
        )


async def test_an_upload_enqueued_after_it_is_registered_is_processed_by_the_worker(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    arq_redis: ArqRedis,
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", (800, 600))
    )

    await media_service.enqueue_processing(arq_redis, agency, media_id)
    await _run_queue(arq_redis, settings, storage)

    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["progress"], media["upload_key"]) == ("ready", 100, None)


async def test_the_job_twice_gives_the_same_result(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", (800, 600))
    )
    ctx = _ctx(settings, app_db, arq_redis, storage)

    first = await media_jobs.process(ctx, str(agency), str(media_id))
    after_first = await media_row(admin_engine, media_id)
    second = await media_jobs.process(ctx, str(agency), str(media_id))

    assert (first, second) == ("ready", "skipped")
    assert await media_row(admin_engine, media_id) == after_first
    assert await count_rows(admin_engine, "media_blob", agency) == 1
    unknown = await media_jobs.process(ctx, str(agency), str(uuid.uuid4()))
    assert unknown == "skipped"


async def test_storage_out_of_reach_is_retried_and_the_upload_kept(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", (800, 600))
    )
    nobody = S3Storage(
        bucket="media",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="test",
        secret_access_key="test",
        addressing_style="path",
    )
    async with nobody:
        with pytest.raises(Retry):
            await media_jobs.process(
                _ctx(settings, app_db, arq_redis, nobody), str(agency), str(media_id)
            )

    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["failure_code"]) == ("processing", None)
    assert await storage.head(media["upload_key"]) is not None
    assert await media_jobs.process(
        _ctx(settings, app_db, arq_redis, storage), str(agency), str(media_id)
    ) == ("ready")


async def test_the_sweep_hands_back_uploads_left_waiting_in_every_agency(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
) -> None:
    first, second = await make_agency(admin_engine), await make_agency(admin_engine)
    photo = write_phone_jpeg(tmp_path / "a.jpg", (800, 600))
    long_ago = datetime.now(UTC) - timedelta(minutes=30)
    lost = await upload_media(admin_engine, storage, first, photo, created_at=long_ago)
    also_lost = await upload_media(admin_engine, storage, second, photo, created_at=long_ago)
    fresh = await upload_media(admin_engine, storage, first, photo)
    ctx = _ctx(settings, app_db, arq_redis, storage)

    handed_back = await media_jobs.sweep(ctx)

    assert handed_back == 2
    assert await _queued(arq_redis) == {f"media:{lost}", f"media:{also_lost}"}
    await _run_queue(arq_redis, settings, storage)
    assert (await media_row(admin_engine, lost))["status"] == "ready"
    assert (await media_row(admin_engine, also_lost))["status"] == "ready"
    assert (await media_row(admin_engine, fresh))["status"] == "processing"
    assert await media_jobs.sweep(ctx) == 0, "nothing waits any more"


async def test_a_settled_media_whose_upload_was_not_deleted_is_cleaned_up_by_the_sweep(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", (800, 600))
    )
    upload_key = (await media_row(admin_engine, media_id))["upload_key"]
    await processing.process_upload(app_db, storage, agency, media_id)
    # A crash between settling and deleting the upload, as it would leave things:
    await storage.upload_from(tmp_path / "a.jpg", upload_key)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE media SET upload_key = :key WHERE id = :id"),
            {"key": upload_key, "id": media_id},
        )
    await _age(admin_engine, "media", "id = :id", {"id": media_id})

    assert await media_jobs.sweep(_ctx(settings, app_db, arq_redis, storage)) == 1
    await _run_queue(arq_redis, settings, storage)

    assert await storage.head(upload_key) is None
    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["upload_key"]) == ("ready", None)


async def test_the_purge_removes_deleted_media_and_files_nothing_names_objects_included(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
) -> None:
    agency, other = await make_agency(admin_engine), await make_agency(admin_engine)
    gone_photo = write_phone_jpeg(tmp_path / "gone.jpg", (800, 600))
    kept_photo = write_phone_jpeg(tmp_path / "kept.jpg", (640, 480))
    gone = await upload_media(admin_engine, storage, agency, gone_photo)
    shared_a = await upload_media(admin_engine, storage, agency, kept_photo)
    shared_b = await upload_media(admin_engine, storage, agency, kept_photo)
    in_grace = await upload_media(admin_engine, storage, other, gone_photo)
    for agency_id, media_id in ((agency, gone), (agency, shared_a), (agency, shared_b)):
        await processing.process_upload(app_db, storage, agency_id, media_id)
    await processing.process_upload(app_db, storage, other, in_grace)
    gone_sha = (await media_row(admin_engine, gone))["sha256"]
    gone_blob = await blob_row(admin_engine, agency, gone_sha)
    async with app_db.transaction(agency) as session:
        story = await derivative_store.get_or_make(
            session, storage, agency, gone_sha, Target("instagram", "story")
        )
    now = datetime.now(UTC)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE media SET deleted_at = :at, purge_after = :at WHERE id IN (:a, :b)"),
            {"at": now - timedelta(minutes=1), "a": gone, "b": shared_a},
        )
        await conn.execute(
            text("UPDATE media SET deleted_at = :at, purge_after = :later WHERE id = :id"),
            {"at": now, "later": now + timedelta(days=7), "id": in_grace},
        )
    await _age(admin_engine, "media_blob", "true", {})

    purged = await media_jobs.purge(_ctx(settings, app_db, arq_redis, storage))

    assert purged == {"media": 2, "blobs": 1, "objects": 3}
    async with admin_engine.connect() as conn:
        left = set((await conn.execute(text("SELECT id FROM media"))).scalars())
    assert left == {shared_b, in_grace}
    for key in (gone_blob["clean_key"], gone_blob["original_key"], story.storage_key):
        assert await storage.head(key) is None, key
    assert await count_rows(admin_engine, "media_derivative", agency) == 0
    assert await count_rows(admin_engine, "media_blob", agency) == 1, "still named by shared_b"
    their_blob = await blob_row(admin_engine, other, gone_sha)
    assert await storage.head(their_blob["clean_key"]) is not None, "another agency's copy"
    assert await media_jobs.purge(_ctx(settings, app_db, arq_redis, storage)) == {
        "media": 0,
        "blobs": 0,
        "objects": 0,
    }


async def test_a_photo_has_every_platforms_copy_made_right_after_processing(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", (1600, 1200))
    )
    await media_jobs.process(_ctx(settings, app_db, arq_redis, storage), str(agency), str(media_id))

    targets = targets_for(PLATFORM_NAMES, MediaKind.IMAGE)
    assert await count_rows(admin_engine, "media_derivative", agency) == len(targets)
    # Publishing then finds each made: asking again makes nothing new.
    async with app_db.transaction(agency) as session:
        sha = (await media_row(admin_engine, media_id))["sha256"]
        again = await derivative_store.get_or_make_all(session, storage, agency, sha, targets)
    assert len(again) == len(targets)
    assert await count_rows(admin_engine, "media_derivative", agency) == len(targets)


async def test_a_crash_no_refusal_names_fails_the_media_instead_of_retrying_for_ever(
    tmp_path: Path,
    storage: Storage,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    arq_redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", (800, 600))
    )

    def library_crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the image library crashed")

    monkeypatch.setattr(images, "normalise_image", library_crash)
    with pytest.raises(RuntimeError):
        await media_jobs.process(
            _ctx(settings, app_db, arq_redis, storage), str(agency), str(media_id)
        )
    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["failure_code"]) == ("failed", "processing_error")
    assert "upload it again" in media["failure_detail"]
    # The sweep does not hand it back: it is settled.
    stuck = await housekeeping.find_waiting_uploads(app_db, datetime.now(UTC) + timedelta(hours=1))
    assert (agency, media_id) in stuck  # only to remove its upload object now
    await media_jobs.process(_ctx(settings, app_db, arq_redis, storage), str(agency), str(media_id))
    assert (await media_row(admin_engine, media_id))["upload_key"] is None
    assert (await media_row(admin_engine, media_id))["status"] == "failed"
