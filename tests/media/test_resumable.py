"""Resumable uploads (tus 1.0) through the app, on both storage back-ends: a file sent in many
requests of odd sizes becomes a media being processed whose stored bytes are the file's; what
the protocol refuses is a problem naming the header to fix (wrong offset, no version, too
large, a lying type, another agency's upload, a second writer); an unfinished upload past its
expiry is swept away with its bytes."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from arq.connections import ArqRedis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from services.worker.jobs import media_uploads
from shared.config import Settings
from shared.db import Database
from shared.media import resumable
from shared.media.storage import Storage
from tests.factories import create_brand, create_location, sign_up
from tests.support.clock import TestClock
from tests.support.s3_server import S3Server
from tests.support.tus_client import PART, TUS, create, head, metadata, patch

JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
MAX = 40 * 1024 * 1024


def jpeg_like(size: int) -> bytes:
    """A file the type sniffer reads as JPEG (processing is not under test here)."""
    return JPEG_HEAD + os.urandom(size - len(JPEG_HEAD))


@pytest.fixture(scope="module", params=["filesystem", "s3"])
async def tus_app(
    request: pytest.FixtureRequest,
    settings: Settings,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    from tests.support.tus_client import media_settings

    configured = await media_settings(
        settings,
        request.param,
        s3_server,
        str(tmp_path_factory.mktemp("media")),
        media_resumable_max_bytes=MAX,
        media_resumable_expiry_seconds=300,  # within an access token's life
    )
    application = create_app(configured)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def api(tus_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tus_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as c:
        yield c


def storage_of(app: FastAPI) -> Storage:
    storage: Storage = app.state.media_storage
    return storage


async def stored_sha256(storage: Storage, key: str) -> str:
    digest = hashlib.sha256()
    async for chunk in storage.get(key):
        digest.update(chunk)
    return digest.hexdigest()


async def upload_row(engine: AsyncEngine, upload_id: str) -> dict[str, object]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT * FROM media_upload WHERE id = :i"), {"i": uuid.UUID(upload_id)}
            )
        ).one()
    return dict(row._mapping)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["tus-resumable"] == "1.0.0"
    if response.request.method == "HEAD":  # no body: the status says it
        return {}
    body: dict[str, object] = response.json()
    assert body["code"] == code, body
    return body


async def test_a_file_sent_in_many_odd_pieces_becomes_a_media_with_the_files_bytes(
    tus_app: FastAPI, api: httpx.AsyncClient, admin_engine: AsyncEngine, redis: Redis
) -> None:
    owner = await sign_up(api)
    brand = await create_brand(api, owner)
    data = jpeg_like(2 * PART + 777_777)
    made = await create(
        api, owner.headers, len(data), filename="reel.jpg", brand_id=brand["id"], tags="a,b"
    )
    assert made.status_code == 201, made.text
    url = made.headers["location"]
    assert url.startswith("/v1/media/uploads/")
    assert made.headers["upload-expires"].endswith("GMT")

    offset, answers = 0, []
    sizes = [1, 4094, 3, 1_000_003, PART + 17, 2_000_000, 999_999_999]
    for size in sizes:
        piece = data[offset : offset + size]
        answer = await patch(api, owner.headers, url, offset, piece)
        assert answer.status_code == 204, answer.text
        offset += len(piece)
        assert answer.headers["upload-offset"] == str(offset)
        answers.append(answer)
        asked = await head(api, owner.headers, url)
        assert asked.headers["upload-offset"] == str(offset)
        assert asked.headers["cache-control"] == "no-store"
        if offset == len(data):
            break

    assert offset == len(data)
    media_id = answers[-1].headers["chorus-media-id"]
    assert answers[-1].headers["chorus-media-location"] == f"/v1/media/{media_id}"
    assert all("chorus-media-id" not in a.headers for a in answers[:-1])
    shown = await api.get(f"/v1/media/{media_id}", headers=owner.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "processing"
    assert (shown.json()["name"], shown.json()["tags"]) == ("reel.jpg", ["a", "b"])
    assert shown.json()["brand_id"] == brand["id"]
    row = await upload_row(admin_engine, url.rsplit("/", 1)[1])
    assert (row["status"], row["tail_size"], len(row["parts"])) == ("complete", 0, 3)  # type: ignore[arg-type]
    key = str(row["storage_key"])
    assert await stored_sha256(storage_of(tus_app), key) == hashlib.sha256(data).hexdigest()
    assert await storage_of(tus_app).head(key + resumable.TAIL_SUFFIX) is None
    assert await redis.exists(f"arq:job:media:{media_id}")  # the worker is asked to process it
    # Asked again, the finished upload says so (a client that lost the last answer).
    again = await patch(api, owner.headers, url, len(data), b"")
    assert again.status_code == 204
    assert again.headers["chorus-media-id"] == media_id


async def test_discovery_says_what_the_server_speaks(
    tus_app: FastAPI, api: httpx.AsyncClient
) -> None:
    answer = await api.options("/v1/media/uploads")
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0"
    assert answer.headers["tus-extension"] == "creation,termination,expiration"
    assert answer.headers["tus-max-size"] == str(MAX)


async def test_creation_refusals_name_the_header(api: httpx.AsyncClient) -> None:
    owner = await sign_up(api)
    no_version = await api.post(
        "/v1/media/uploads", headers={**owner.headers, "Upload-Length": "10"}
    )
    assert no_version.status_code == 412
    assert no_version.headers["tus-version"] == "1.0.0"
    assert "Tus-Resumable" in str(no_version.json()["detail"])

    deferred = await api.post(
        "/v1/media/uploads", headers={**owner.headers, **TUS, "Upload-Defer-Length": "1"}
    )
    body = problem(deferred, 400, "upload_defer_length_unsupported")
    assert "Upload-Defer-Length" in str(body["detail"])

    missing = await api.post("/v1/media/uploads", headers={**owner.headers, **TUS})
    assert "Upload-Length" in str(problem(missing, 400, "upload-length_missing")["detail"])

    too_large = await create(api, owner.headers, MAX + 1)
    body = problem(too_large, 413, "media_upload_too_large")
    assert body["max_bytes"] == MAX

    garbled = await api.post(
        "/v1/media/uploads",
        headers={**owner.headers, **TUS, "Upload-Length": "10", "Upload-Metadata": "name %%%"},
    )
    assert "Upload-Metadata" in str(problem(garbled, 400, "upload_metadata_invalid")["detail"])

    nowhere = await create(api, owner.headers, 10, brand_id=str(uuid.uuid4()))
    assert nowhere.status_code == 404, nowhere.text

    anonymous = await api.post("/v1/media/uploads", headers={**TUS, "Upload-Length": "10"})
    assert anonymous.status_code == 401


async def test_a_wrong_offset_is_a_conflict_saying_where_to_resume(
    api: httpx.AsyncClient,
) -> None:
    owner = await sign_up(api)
    data = jpeg_like(10_000)
    url = (await create(api, owner.headers, len(data))).headers["location"]
    assert (await patch(api, owner.headers, url, 0, data[:6000])).status_code == 204

    behind = await patch(api, owner.headers, url, 5000, data[5000:])
    body = problem(behind, 409, "media_upload_offset_mismatch")
    assert behind.headers["upload-offset"] == "6000"
    assert body["upload_offset"] == 6000

    wrong_type = await api.patch(
        url,
        content=data[6000:],
        headers={**owner.headers, **TUS, "Upload-Offset": "6000", "Content-Type": "image/jpeg"},
    )
    problem(wrong_type, 415, "unsupported_media_type")
    past_end = await patch(api, owner.headers, url, 6000, data[6000:] + b"more")
    problem(past_end, 413, "media_upload_past_length")
    assert (await head(api, owner.headers, url)).headers["upload-offset"] == "6000"


async def test_a_file_lying_about_its_type_is_refused_and_dropped(
    tus_app: FastAPI, api: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(api)
    script = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>" * 100
    url = (await create(api, owner.headers, len(script), filename="clip.mp4")).headers["location"]

    refused = await patch(api, owner.headers, url, 0, script)

    body = problem(refused, 415, "unsupported_media_type")
    assert "image/jpeg" in body["accepted"]  # type: ignore[operator]
    assert "video/mp4" in body["accepted"]  # type: ignore[operator]
    assert (await head(api, owner.headers, url)).status_code == 404
    row = await upload_row(admin_engine, url.rsplit("/", 1)[1])
    assert row["status"] == "aborted"
    assert await storage_of(tus_app).head(str(row["storage_key"])) is None


async def test_another_agencys_or_another_locations_upload_is_not_found(
    api: httpx.AsyncClient,
) -> None:
    owner, stranger = await sign_up(api), await sign_up(api)
    brand = await create_brand(api, owner)
    location = await create_location(api, owner, brand["id"])
    url = (await create(api, owner.headers, 10_000, location_id=location["id"])).headers["location"]

    for answer in (
        await head(api, stranger.headers, url),
        await patch(api, stranger.headers, url, 0, jpeg_like(100)),
        await api.delete(url, headers={**stranger.headers, **TUS}),
    ):
        problem(answer, 404, "not_found")  # as for any object of another agency
        if answer.request.method != "HEAD":  # the id appears only as the request's own path
            assert url.rsplit("/", 1)[-1] not in answer.json()["detail"]
    assert (await head(api, owner.headers, url)).headers["upload-offset"] == "0"


async def test_a_second_writer_is_refused_while_the_first_writes(
    api: httpx.AsyncClient, redis: Redis
) -> None:
    owner = await sign_up(api)
    url = (await create(api, owner.headers, 10_000)).headers["location"]
    upload_id = uuid.UUID(url.rsplit("/", 1)[1])
    writing = resumable.UploadLock(
        ArqRedis(connection_pool=redis.connection_pool), owner.agency_id, upload_id
    )
    assert await writing.acquire()
    try:
        second = await patch(api, owner.headers, url, 0, jpeg_like(100))
        problem(second, 423, "media_upload_locked")
        terminate = await api.delete(url, headers={**owner.headers, **TUS})
        problem(terminate, 423, "media_upload_locked")
    finally:
        await writing.release()
    assert (await patch(api, owner.headers, url, 0, jpeg_like(100))).status_code == 204


async def test_termination_drops_the_bytes(
    tus_app: FastAPI, api: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(api)
    url = (await create(api, owner.headers, PART * 2)).headers["location"]
    assert (await patch(api, owner.headers, url, 0, jpeg_like(PART + 10))).status_code == 204
    row = await upload_row(admin_engine, url.rsplit("/", 1)[1])
    tail = str(row["storage_key"]) + resumable.TAIL_SUFFIX
    assert await storage_of(tus_app).head(tail) is not None

    ended = await api.delete(url, headers={**owner.headers, **TUS})

    assert ended.status_code == 204
    assert (await head(api, owner.headers, url)).status_code == 404
    assert await storage_of(tus_app).head(tail) is None
    after = await patch(api, owner.headers, url, PART + 10, b"x")
    problem(after, 404, "media_upload_not_found")


async def test_an_unfinished_upload_expires_and_is_swept_away(
    tus_app: FastAPI,
    api: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    redis: Redis,
    clock: TestClock,
) -> None:
    owner = await sign_up(api)
    url = (await create(api, owner.headers, 1_000_000)).headers["location"]
    assert (await patch(api, owner.headers, url, 0, jpeg_like(3000))).status_code == 204
    row = await upload_row(admin_engine, url.rsplit("/", 1)[1])
    tail = str(row["storage_key"]) + resumable.TAIL_SUFFIX
    settings: Settings = tus_app.state.settings

    clock.advance(settings.media_resumable_expiry_seconds + 1)

    problem(await head(api, owner.headers, url), 410, "media_upload_expired")
    problem(await patch(api, owner.headers, url, 3000, b"x"), 410, "media_upload_expired")
    ctx = {"chorus": _worker_context(settings, app_db, redis)}
    assert await media_uploads.expire_uploads(ctx) == 1
    assert await media_uploads.expire_uploads(ctx) == 0
    assert (await upload_row(admin_engine, url.rsplit("/", 1)[1]))["status"] == "aborted"
    assert await storage_of(tus_app).head(tail) is None
    problem(await head(api, owner.headers, url), 404, "media_upload_not_found")


async def test_a_fresh_upload_is_not_swept(
    tus_app: FastAPI, api: httpx.AsyncClient, app_db: Database, redis: Redis, clock: TestClock
) -> None:
    owner = await sign_up(api)
    url = (await create(api, owner.headers, 1_000_000)).headers["location"]
    settings: Settings = tus_app.state.settings
    clock.advance(settings.media_resumable_expiry_seconds - 60)
    assert (await patch(api, owner.headers, url, 0, jpeg_like(3000))).status_code == 204
    clock.advance(120)  # past the first expiry, not the one the bytes moved on

    ctx = {"chorus": _worker_context(settings, app_db, redis)}
    assert await media_uploads.expire_uploads(ctx) == 0
    assert (await head(api, owner.headers, url)).headers["upload-offset"] == "3000"


def _worker_context(settings: Settings, db: Database, redis: Redis) -> object:
    from services.worker.context import WorkerContext

    return WorkerContext(
        settings=settings, db=db, redis=ArqRedis(connection_pool=redis.connection_pool)
    )


def test_metadata_is_base64_pairs() -> None:
    from services.api.routes.media_uploads import details_from, parse_metadata

    parsed = parse_metadata(metadata(filename="a.mov", tags="x, y,,z", folder="Reels") + ",flag")
    assert parsed == {"filename": "a.mov", "tags": "x, y,,z", "folder": "Reels", "flag": ""}
    details = details_from(parsed)
    assert (details.name, details.tags, details.folder) == ("a.mov", ("x", "y", "z"), "Reels")


async def test_a_file_shorter_than_the_sniffed_head_is_typed_when_complete(
    api: httpx.AsyncClient,
) -> None:
    owner = await sign_up(api)
    tiny = b"\x89PNG\r\n\x1a\n" + os.urandom(92)
    url = (await create(api, owner.headers, len(tiny), name="Dot")).headers["location"]
    assert (await patch(api, owner.headers, url, 0, tiny[:50])).status_code == 204

    done = await patch(api, owner.headers, url, 50, tiny[50:])

    assert done.status_code == 204, done.text
    shown = await api.get(f"/v1/media/{done.headers['chorus-media-id']}", headers=owner.headers)
    assert (shown.json()["type"], shown.json()["size_bytes"]) == ("png", len(tiny))
