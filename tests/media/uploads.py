"""Media rows and uploads as the upload API leaves them (status ``processing``, the bytes at
``upload_key``), written with the admin engine, and readers of what processing made. Shared by
the processing, derivative store and media job tests."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import av
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.media.sniff import sniff_file
from shared.media.storage import Storage
from tests.media.files import write_video

PHONE_LOCATION = "+37.9700+023.7267/"
"""ISO 6709, as phones write it into a video's ``©xyz`` atom (Athens)."""
PHONE_VIDEO_TITLE = "secret-video-title"


async def make_agency(engine: AsyncEngine) -> uuid.UUID:
    agency_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO agency (id, name) VALUES (:id, :name)"),
            {"id": agency_id, "name": f"Agency {agency_id.hex[:6]}"},
        )
    return agency_id


def upload_key_for(agency_id: uuid.UUID) -> str:
    return f"agencies/{agency_id}/uploads/{uuid.uuid4()}"


async def upload_media(
    engine: AsyncEngine,
    storage: Storage,
    agency_id: uuid.UUID,
    path: Path,
    *,
    created_at: datetime | None = None,
) -> uuid.UUID:
    """Store ``path`` as an upload and insert its media row, waiting for processing."""
    key = upload_key_for(agency_id)
    size = await storage.upload_from(path, key)
    detected = sniff_file(path)
    media_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO media (agency_id, id, status, progress, upload_key, upload_size,
                    upload_type, name, created_at, updated_at)
                VALUES (:agency, :id, 'processing', 0, :key, :size, :type, :name,
                    coalesce(:created, now()), coalesce(:created, now()))
                """
            ),
            {
                "agency": agency_id,
                "id": media_id,
                "key": key,
                "size": size,
                "type": getattr(detected, "value", "jpeg"),
                "name": path.name,
                "created": created_at,
            },
        )
    return media_id


async def media_row(engine: AsyncEngine, media_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM media WHERE id = :id"), {"id": media_id})
        ).one()
    return dict(row._mapping)


async def blob_row(engine: AsyncEngine, agency_id: uuid.UUID, sha256: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT * FROM media_blob WHERE agency_id = :a AND sha256 = :s"),
                {"a": agency_id, "s": sha256},
            )
        ).one()
    return dict(row._mapping)


async def count_rows(engine: AsyncEngine, table: str, agency_id: uuid.UUID) -> int:
    assert table in {"media", "media_blob", "media_derivative"}
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE agency_id = :a"), {"a": agency_id}
                )
            ).scalar_one()
        )


async def read_object(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.get(key)])


def write_phone_video(path: Path, *, seconds: float = 3.5) -> Path:
    """A phone's vertical video: H.264 + AAC stored 1280×720 with a display matrix turning it
    90° clockwise (shown 720×1280), in a MOV whose ``©xyz`` atom says where it was shot and
    whose title is planted too."""
    plain = path.with_name(f"plain-{path.name}")
    write_video(plain, size=(1280, 720), seconds=seconds, rotation_cw=90, container="mov")
    with av.open(str(plain)) as source, av.open(str(path), "w", format="mov") as output:
        output.metadata["location"] = PHONE_LOCATION
        output.metadata["title"] = PHONE_VIDEO_TITLE
        streams = {s.index: output.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
    plain.unlink()
    return path


def atoms(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """The ISO-BMFF boxes between ``start`` and ``end``: (type, offset, size)."""
    found = []
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        header = 8
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
            header = 16
        elif size == 0:
            size = end - offset
        if size < header:
            break
        found.append((kind, offset, size))
        offset += size
    return found
