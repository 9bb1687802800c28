"""Processing an upload, as the worker does it, against real PostgreSQL and both storage
back-ends: what a user sees on the media (status, progress, the reason of a refusal) and what
is stored (one blob per content, clean copies with no metadata, no upload left behind)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import av
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.media import processing
from shared.media.facts import MediaFacts, MediaType
from shared.media.storage import Storage
from tests.media.files import (
    metadata_found,
    write_heic,
    write_phone_jpeg,
    write_png_bomb,
    write_svg_with_script,
    write_truncated_jpeg,
)
from tests.media.uploads import (
    PHONE_LOCATION,
    PHONE_VIDEO_TITLE,
    atoms,
    blob_row,
    count_rows,
    make_agency,
    media_row,
    read_object,
    upload_media,
    write_phone_video,
)


async def _process(
    app_db: Database, storage: Storage, agency_id: uuid.UUID, media_id: uuid.UUID
) -> processing.Outcome:
    return await processing.process_upload(app_db, storage, agency_id, media_id)


async def test_a_phone_photo_becomes_ready_and_its_served_copy_has_no_gps(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    photo = write_phone_jpeg(tmp_path / "IMG_0001.jpg")
    media_id = await upload_media(admin_engine, storage, agency, photo)
    upload_key = (await media_row(admin_engine, media_id))["upload_key"]

    outcome = await _process(app_db, storage, agency, media_id)

    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["progress"], media["failure_code"]) == ("ready", 100, None)
    assert media["upload_key"] is None
    assert await storage.head(upload_key) is None, "the upload is deleted once processed"
    blob = await blob_row(admin_engine, agency, media["sha256"])
    assert outcome.sha256 == media["sha256"]
    served = await read_object(storage, blob["clean_key"])
    assert metadata_found(served) == []
    with Image.open(io.BytesIO(served)) as image:
        assert (image.format, image.size) == ("JPEG", (3024, 4032))  # upright
    facts = MediaFacts.from_json(blob["facts"])
    assert (facts.type, facts.width, facts.height) == (MediaType.JPEG, 3024, 4032)
    assert (blob["media_type"], blob["kind"]) == ("jpeg", "image")
    assert blob["size_bytes"] == photo.stat().st_size
    original = await read_object(storage, blob["original_key"])
    assert original == photo.read_bytes(), "the original is kept as uploaded (private)"
    assert blob["original_key"].startswith(f"agencies/{agency}/")


async def test_the_same_bytes_uploaded_twice_are_one_blob(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    other_agency = await make_agency(admin_engine)
    photo = write_phone_jpeg(tmp_path / "shop.jpg", size=(1200, 900))
    first = await upload_media(admin_engine, storage, agency, photo)
    second = await upload_media(admin_engine, storage, agency, photo)
    elsewhere = await upload_media(admin_engine, storage, other_agency, photo)

    one = await _process(app_db, storage, agency, first)
    two = await _process(app_db, storage, agency, second)
    three = await _process(app_db, storage, other_agency, elsewhere)

    assert (one.status, two.status, three.status) == ("ready", "ready", "ready")
    assert (one.reused_blob, two.reused_blob, three.reused_blob) == (False, True, False)
    rows = [await media_row(admin_engine, m) for m in (first, second, elsewhere)]
    assert rows[0]["sha256"] == rows[1]["sha256"] == rows[2]["sha256"]
    assert await count_rows(admin_engine, "media_blob", agency) == 1
    assert await count_rows(admin_engine, "media_blob", other_agency) == 1, "stored per agency"
    mine = await blob_row(admin_engine, agency, rows[0]["sha256"])
    theirs = await blob_row(admin_engine, other_agency, rows[0]["sha256"])
    assert mine["clean_key"] != theirs["clean_key"]
    assert all(row["upload_key"] is None for row in rows)


async def test_a_cut_off_photo_fails_saying_why_and_leaves_nothing_stored(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_truncated_jpeg(tmp_path / "cut.jpg")
    )
    upload_key = (await media_row(admin_engine, media_id))["upload_key"]

    outcome = await _process(app_db, storage, agency, media_id)

    media = await media_row(admin_engine, media_id)
    assert (outcome.status, media["status"], media["failure_code"]) == (
        "failed",
        "failed",
        "corrupt",
    )
    assert "truncated" in media["failure_detail"]
    assert media["sha256"] is None
    assert media["upload_key"] is None
    assert await storage.head(upload_key) is None
    assert await count_rows(admin_engine, "media_blob", agency) == 0


async def test_a_decompression_bomb_fails_without_being_decoded(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_png_bomb(tmp_path / "bomb.png")
    )

    await _process(app_db, storage, agency, media_id)

    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["failure_code"]) == ("failed", "too_many_pixels")
    assert "megapixels" in media["failure_detail"]


async def test_a_file_whose_bytes_are_not_media_fails_as_an_unsupported_type(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_svg_with_script(tmp_path / "logo.jpg")
    )

    await _process(app_db, storage, agency, media_id)

    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["failure_code"]) == ("failed", "unsupported_type")
    assert "SVG" in media["failure_detail"]


async def test_a_heic_photo_is_served_as_a_clean_jpeg(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_heic(tmp_path / "IMG_0002.HEIC")
    )

    await _process(app_db, storage, agency, media_id)

    media = await media_row(admin_engine, media_id)
    assert media["status"] == "ready"
    assert media["upload_type"] == "heic"
    blob = await blob_row(admin_engine, agency, media["sha256"])
    served = await read_object(storage, blob["clean_key"])
    assert served.startswith(b"\xff\xd8\xff")
    assert blob["media_type"] == "jpeg"
    assert metadata_found(served) == []
    with Image.open(io.BytesIO(served)) as image:
        assert image.size == (640, 480)


async def test_a_vertical_phone_video_is_ready_with_its_facts_and_no_location(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    clip = write_phone_video(tmp_path / "IMG_0003.MOV")
    assert b"\xa9xyz" in clip.read_bytes()
    assert PHONE_LOCATION.encode() in clip.read_bytes()
    media_id = await upload_media(admin_engine, storage, agency, clip)

    await _process(app_db, storage, agency, media_id)

    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["progress"]) == ("ready", 100)
    blob = await blob_row(admin_engine, agency, media["sha256"])
    facts = MediaFacts.from_json(blob["facts"])
    assert (facts.type, facts.width, facts.height, facts.rotation) == (
        MediaType.MP4,
        720,
        1280,
        90,
    )
    assert (facts.video_codec, facts.audio_codec, facts.frame_rate) == ("h264", "aac", 30.0)
    assert facts.duration_seconds is not None
    assert 3.3 <= facts.duration_seconds <= 3.7
    assert (blob["media_type"], blob["kind"]) == ("mp4", "video")

    served = await read_object(storage, blob["clean_key"])
    for planted in (b"\xa9xyz", b"loci", PHONE_LOCATION.encode(), PHONE_VIDEO_TITLE.encode()):
        assert planted not in served, planted
    top = [kind for kind, _offset, _size in atoms(served)]
    assert top.index(b"moov") < top.index(b"mdat"), "the index comes first (fast start)"
    assert _metadata_items(served) == [], "nothing in the container's metadata"
    copy = tmp_path / "served.mp4"
    copy.write_bytes(served)
    with av.open(str(copy)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]

    assert blob["poster_key"] is not None
    poster = await read_object(storage, blob["poster_key"])
    with Image.open(io.BytesIO(poster)) as image:
        assert (image.format, image.size) == ("JPEG", (720, 1280))  # upright


async def test_processing_again_changes_nothing(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", size=(800, 600))
    )
    first = await _process(app_db, storage, agency, media_id)
    before = await media_row(admin_engine, media_id)

    again = await _process(app_db, storage, agency, media_id)

    after = await media_row(admin_engine, media_id)
    assert (first.status, again.status) == ("ready", "skipped")
    assert {k: after[k] for k in ("status", "sha256", "progress", "updated_at")} == {
        k: before[k] for k in ("status", "sha256", "progress", "updated_at")
    }
    assert await count_rows(admin_engine, "media_blob", agency) == 1


async def test_an_upload_gone_from_storage_fails_asking_for_it_again(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    media_id = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", size=(800, 600))
    )
    await storage.delete((await media_row(admin_engine, media_id))["upload_key"])

    await _process(app_db, storage, agency, media_id)

    media = await media_row(admin_engine, media_id)
    assert (media["status"], media["failure_code"]) == ("failed", processing.UPLOAD_MISSING)
    assert "upload it again" in media["failure_detail"]


async def test_a_blob_whose_clean_copy_went_missing_is_stored_again(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    photo = write_phone_jpeg(tmp_path / "a.jpg", size=(800, 600))
    first = await upload_media(admin_engine, storage, agency, photo)
    await _process(app_db, storage, agency, first)
    blob = await blob_row(admin_engine, agency, (await media_row(admin_engine, first))["sha256"])
    await storage.delete(blob["clean_key"])
    second = await upload_media(admin_engine, storage, agency, photo)

    outcome = await _process(app_db, storage, agency, second)

    assert (outcome.status, outcome.reused_blob) == ("ready", False)
    assert await storage.head(blob["clean_key"]) is not None


def _metadata_items(data: bytes) -> list[bytes]:
    """The item boxes in ``moov/udta/meta/ilst`` and any ``moov/udta`` box other than
    ``meta`` (where ``©xyz``, titles and authors live)."""
    found: list[bytes] = []
    for kind, offset, size in atoms(data):
        if kind != b"moov":
            continue
        for inner, i_offset, i_size in atoms(data, offset + 8, offset + size):
            if inner != b"udta":
                continue
            for entry, e_offset, e_size in atoms(data, i_offset + 8, i_offset + i_size):
                if entry != b"meta":
                    found.append(entry)
                    continue
                # ``meta`` is a full box: 4 bytes of version and flags before its children.
                for child, c_offset, c_size in atoms(data, e_offset + 12, e_offset + e_size):
                    if child == b"ilst":
                        found += [k for k, _o, _s in atoms(data, c_offset + 8, c_offset + c_size)]
    return found
