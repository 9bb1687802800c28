"""A resumable upload survives its connection being cut, on both storage back-ends: the bytes
received are kept (whole parts and the tail past them), ``HEAD`` says how many, and the file is
finished from there into a media whose stored bytes are the file's.

Through a real server process (uvicorn on a socket, hung up on mid-body, as a phone losing its
signal), and through the app itself with a body that ends in ``http.disconnect`` after a known
number of bytes, which pins the count exactly."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message

from services.api.app import create_app
from shared.config import Settings
from shared.media import resumable
from shared.media.storage import Storage, storage_from_settings
from tests.factories import sign_up
from tests.support.s3_server import S3Server
from tests.support.tus_client import (
    OFFSET_STREAM,
    PART,
    TUS,
    CutConnection,
    create,
    head,
    media_settings,
    patch,
)
from tests.support.web import WebServer

JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def jpeg_like(size: int) -> bytes:
    return JPEG_HEAD + os.urandom(size - len(JPEG_HEAD))


@pytest.fixture(scope="module", params=["filesystem", "s3"])
async def configured(
    request: pytest.FixtureRequest,
    settings: Settings,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return await media_settings(
        settings, request.param, s3_server, str(tmp_path_factory.mktemp("media"))
    )


@pytest.fixture(scope="module")
def server(configured: Settings) -> Iterator[WebServer]:
    running = WebServer(create_app(configured)).start()
    yield running
    running.stop()


@pytest.fixture
async def http(server: WebServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
        yield c


def storage_of(app: FastAPI) -> Storage:
    storage: Storage = app.state.media_storage
    return storage


async def stored_sha256(storage: Storage, key: str) -> str:
    digest = hashlib.sha256()
    async for chunk in storage.get(key):
        digest.update(chunk)
    return digest.hexdigest()


async def row_of(engine: AsyncEngine, url: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT * FROM media_upload WHERE id = :i"),
                {"i": uuid.UUID(url.rsplit("/", 1)[1])},
            )
        ).one()


async def until(condition: Any, what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not await condition():
        assert time.monotonic() < deadline, f"waited {within_s} s for {what}"
        await asyncio.sleep(0.05)


def writer_key(agency_id: uuid.UUID, url: str) -> str:
    return f"media:upload:{agency_id}:{url.rsplit('/', 1)[1]}:writer"


async def test_a_cut_connection_keeps_what_arrived_and_the_upload_resumes(
    server: WebServer,
    http: httpx.AsyncClient,
    configured: Settings,
    admin_engine: AsyncEngine,
    redis: Redis,
) -> None:
    owner = await sign_up(http)
    data = jpeg_like(2 * PART + 12_345)
    url = (await create(http, owner.headers, len(data), name="Clip")).headers["location"]
    cut = CutConnection(server.url, owner.headers, url, 0, len(data))
    sent = 0
    while sent < PART + 300_000:
        await cut.send(data[sent : sent + 256 * 1024])
        sent += 256 * 1024

    async def a_part_is_stored() -> bool:
        return len((await row_of(admin_engine, url)).parts) == 1

    await until(a_part_is_stored, "the first part to be stored")
    await cut.hang_up()

    async def writer_gone() -> bool:
        return not await redis.exists(writer_key(owner.agency_id, url))

    await until(writer_gone, "the cut request to end")
    kept = int((await head(http, owner.headers, url)).headers["upload-offset"])
    assert PART <= kept <= sent
    row = await row_of(admin_engine, url)
    assert row.upload_offset == kept == PART + row.tail_size

    done = await patch(http, owner.headers, url, kept, data[kept:])

    assert done.status_code == 204, done.text
    media = await http.get(f"/v1/media/{done.headers['chorus-media-id']}", headers=owner.headers)
    assert media.json()["status"] == "processing"
    key = (await row_of(admin_engine, url)).storage_key
    async with storage_from_settings(configured) as storage:  # the server's, on this loop
        assert await stored_sha256(storage, key) == hashlib.sha256(data).hexdigest()


async def test_a_second_writer_is_refused_while_a_connection_is_sending(
    server: WebServer, http: httpx.AsyncClient, redis: Redis
) -> None:
    owner = await sign_up(http)
    data = jpeg_like(PART + 1000)
    url = (await create(http, owner.headers, len(data))).headers["location"]
    first = CutConnection(server.url, owner.headers, url, 0, len(data))
    await first.send(data[:3000])

    async def writing() -> bool:
        return bool(await redis.exists(writer_key(owner.agency_id, url)))

    await until(writing, "the first request to take the upload")
    second = await patch(http, owner.headers, url, 0, data)
    assert second.status_code == 423, second.text
    assert second.json()["code"] == "media_upload_locked"
    await first.hang_up()

    async def released() -> bool:
        return not await writing()

    await until(released, "the cut request to end")
    kept = int((await head(http, owner.headers, url)).headers["upload-offset"])
    done = await patch(http, owner.headers, url, kept, data[kept:])
    assert done.status_code == 204, done.text
    assert "chorus-media-id" in done.headers


async def test_a_disconnect_mid_part_keeps_exactly_the_bytes_received(
    configured: Settings, admin_engine: AsyncEngine
) -> None:
    app = create_app(configured)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as api:
            owner = await sign_up(api)
            data = jpeg_like(2 * PART + 99)
            url = (await create(api, owner.headers, len(data))).headers["location"]
            pieces = [data[:1_000_000], data[1_000_000 : PART + 2_000_001]]
            await _send_then_disconnect(app, owner.headers, url, pieces, len(data))

            kept = int((await head(api, owner.headers, url)).headers["upload-offset"])
            assert kept == PART + 2_000_001  # one part, and the tail past it
            row = await row_of(admin_engine, url)
            assert (len(row.parts), row.tail_size) == (1, 2_000_001)
            tail = await storage_of(app).head(row.storage_key + resumable.TAIL_SUFFIX)
            assert tail is not None
            assert tail.size >= 2_000_001

            done = await patch(api, owner.headers, url, kept, data[kept:])
            assert done.status_code == 204, done.text
            assert await stored_sha256(storage_of(app), row.storage_key) == (
                hashlib.sha256(data).hexdigest()
            )


async def _send_then_disconnect(
    app: FastAPI, auth: dict[str, str], url: str, pieces: list[bytes], declared: int
) -> None:
    """A ``PATCH`` declaring ``declared`` bytes whose body arrives as ``pieces``, then the
    client is gone."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": piece, "more_body": True} for piece in pieces
    ]
    messages.append({"type": "http.disconnect"})
    headers = {
        **auth,
        **TUS,
        "Upload-Offset": "0",
        "Content-Type": OFFSET_STREAM,
        "Content-Length": str(declared),
        "Host": "chorus.test",
    }
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("chorus.test", 80),
    }

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # pragma: no cover (nothing asks past the disconnect)
        raise AssertionError

    async def send(message: Message) -> None:
        pass  # the client is gone: whatever the app says goes nowhere

    await app(scope, receive, send)
