"""Platform copies of processed media, made on demand and kept: against real PostgreSQL and
both storage back-ends, from blobs the processing made."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.content.media import MediaKind
from shared.db import Database
from shared.media import derivative_store, derivatives, processing
from shared.media.derivative_store import MediaUnavailable, NotAccepted
from shared.media.derivatives import FocalPoint, Target
from shared.media.facts import MediaType
from shared.media.platform_rules import ProblemCode
from shared.media.storage import Storage
from tests.media.files import (
    metadata_found,
    write_animated_gif,
    write_marked_photo,
    write_phone_jpeg,
)
from tests.media.uploads import (
    blob_row,
    count_rows,
    make_agency,
    media_row,
    read_object,
    upload_media,
    write_phone_video,
)

STORY = Target("instagram", "story")


async def _ready(
    admin_engine: AsyncEngine,
    app_db: Database,
    storage: Storage,
    agency_id: uuid.UUID,
    path: Path,
    focal: tuple[float, float] | None = None,
) -> tuple[uuid.UUID, str]:
    """A processed media of ``path``: its id and content hash."""
    media_id = await upload_media(admin_engine, storage, agency_id, path)
    outcome = await processing.process_upload(app_db, storage, agency_id, media_id)
    assert outcome.status == "ready", outcome
    if focal is not None:
        async with admin_engine.begin() as conn:
            await conn.execute(
                text("UPDATE media SET focal_x = :x, focal_y = :y WHERE id = :id"),
                {"x": focal[0], "y": focal[1], "id": media_id},
            )
    sha256 = (await media_row(admin_engine, media_id))["sha256"]
    assert isinstance(sha256, str)
    return media_id, sha256


def _has_marker(data: bytes) -> bool:
    """Whether the picture shows some of the red disc."""
    with Image.open(io.BytesIO(data)) as image:
        red, green, blue = image.convert("RGB").split()
    strong = red.point(lambda v: 255 if v > 200 else 0)
    weak = ImageChops.multiply(
        green.point(lambda v: 255 if v < 60 else 0), blue.point(lambda v: 255 if v < 60 else 0)
    )
    return ImageChops.multiply(strong, weak).getbbox() is not None


async def test_a_derivative_is_made_once_then_reused(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    _media, sha256 = await _ready(
        admin_engine, app_db, storage, agency, write_phone_jpeg(tmp_path / "p.jpg", (1600, 1200))
    )

    async with app_db.transaction(agency) as session:
        first = await derivative_store.get_or_make(session, storage, agency, sha256, STORY)
    # With its source gone, only the stored derivative can answer.
    await storage.delete((await blob_row(admin_engine, agency, sha256))["clean_key"])
    async with app_db.transaction(agency) as session:
        again = await derivative_store.get_or_make(session, storage, agency, sha256, STORY)

    assert again == first
    assert await count_rows(admin_engine, "media_derivative", agency) == 1
    data = await read_object(storage, first.storage_key)
    assert first.storage_key.startswith(f"agencies/{agency}/")
    assert (first.facts.type, first.facts.size_bytes) == (MediaType.JPEG, len(data))
    assert first.facts.width * 16 == first.facts.height * 9, "Stories are 9:16"
    assert metadata_found(data) == []


async def test_the_same_focal_point_is_one_derivative_and_another_one_crops_elsewhere(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    photo = write_marked_photo(tmp_path / "wide.jpg", (1600, 900), focal=(0.9, 0.5))
    _media, sha256 = await _ready(admin_engine, app_db, storage, agency, photo)

    async with app_db.transaction(agency) as session:
        subject = await derivative_store.get_or_make(
            session, storage, agency, sha256, STORY, FocalPoint(0.9, 0.5)
        )
        same = await derivative_store.get_or_make(
            session, storage, agency, sha256, STORY, FocalPoint(0.9001, 0.5)
        )
        centre = await derivative_store.get_or_make(session, storage, agency, sha256, STORY)

    assert same.storage_key == subject.storage_key
    assert centre.storage_key != subject.storage_key
    assert await count_rows(admin_engine, "media_derivative", agency) == 2
    assert _has_marker(await read_object(storage, subject.storage_key))
    assert not _has_marker(await read_object(storage, centre.storage_key))


async def test_a_videos_cover_is_cut_from_its_poster_and_the_video_is_sent_as_it_is(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    _media, sha256 = await _ready(
        admin_engine, app_db, storage, agency, write_phone_video(tmp_path / "clip.mov")
    )
    blob = await blob_row(admin_engine, agency, sha256)

    async with app_db.transaction(agency) as session:
        cover = await derivative_store.get_or_make(
            session, storage, agency, sha256, Target("instagram", "reel", cover=True)
        )
        reel = await derivative_store.video_as_is(session, agency, sha256, "instagram", "reel")

    assert (cover.facts.type, cover.facts.width * 16) == (MediaType.JPEG, cover.facts.height * 9)
    assert await storage.head(cover.storage_key) is not None
    assert reel.storage_key == blob["clean_key"]
    assert (reel.facts.width, reel.facts.height) == (720, 1280)


async def test_a_video_a_placement_refuses_names_the_rule_it_breaks(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    _media, sha256 = await _ready(
        admin_engine,
        app_db,
        storage,
        agency,
        write_phone_video(tmp_path / "short.mov", seconds=2.0),
    )

    async with app_db.transaction(agency) as session:
        with pytest.raises(NotAccepted) as refused:
            await derivative_store.video_as_is(session, agency, sha256, "instagram", "reel")

    assert [p.code for p in refused.value.problems] == [ProblemCode.DURATION_TOO_SHORT]
    assert "3" in refused.value.message


async def test_a_posts_media_come_back_in_order_each_as_the_platform_takes_it(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    photo_id, photo_sha = await _ready(
        admin_engine,
        app_db,
        storage,
        agency,
        write_marked_photo(tmp_path / "m.jpg", (1600, 900), focal=(0.85, 0.5)),
        focal=(0.85, 0.5),
    )
    gif_id, gif_sha = await _ready(
        admin_engine, app_db, storage, agency, write_animated_gif(tmp_path / "a.gif")
    )
    video_id, video_sha = await _ready(
        admin_engine, app_db, storage, agency, write_phone_video(tmp_path / "v.mov", seconds=4.5)
    )

    async with app_db.transaction(agency) as session:
        x_post = await derivative_store.derivatives_for_post(
            session, storage, agency, "x", "post", [gif_id, photo_id]
        )
        pin = await derivative_store.derivatives_for_post(
            session, storage, agency, "pinterest", "pin", [video_id]
        )

    gif, photo = x_post.items
    assert (gif.media_id, photo.media_id) == (gif_id, photo_id)
    assert gif.file.storage_key == (await blob_row(admin_engine, agency, gif_sha))["clean_key"]
    assert gif.file.facts.type is MediaType.GIF
    assert photo.file.storage_key != (await blob_row(admin_engine, agency, photo_sha))["clean_key"]
    assert _has_marker(await read_object(storage, photo.file.storage_key)), "focal point kept"
    assert [p.code for p in x_post.problems] == [ProblemCode.MIXED_KINDS]

    (video,) = pin.items
    assert video.file.storage_key == (await blob_row(admin_engine, agency, video_sha))["clean_key"]
    assert video.cover is not None
    assert video.cover.facts.width * 3 == video.cover.facts.height * 2, "Pinterest covers are 2:3"
    assert pin.problems == []


async def test_media_of_another_agency_or_not_ready_cannot_be_sent(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    other = await make_agency(admin_engine)
    mine, _sha = await _ready(
        admin_engine, app_db, storage, agency, write_phone_jpeg(tmp_path / "a.jpg", (800, 600))
    )
    theirs, _their_sha = await _ready(
        admin_engine, app_db, storage, other, write_phone_jpeg(tmp_path / "b.jpg", (640, 480))
    )
    waiting = await upload_media(
        admin_engine, storage, agency, write_phone_jpeg(tmp_path / "c.jpg", (640, 480))
    )

    async with app_db.transaction(agency) as session:
        with pytest.raises(MediaUnavailable) as refused:
            await derivative_store.derivatives_for_post(
                session, storage, agency, "instagram", "feed", [mine, theirs, waiting]
            )

    assert refused.value.reasons == {theirs: "not found", waiting: "processing"}
    assert await count_rows(admin_engine, "media_derivative", other) == 0


def test_placements_are_chosen_by_what_the_post_holds() -> None:
    assert derivative_store.placement_for("instagram", [MediaKind.IMAGE], 3) == "feed"
    assert derivative_store.placement_for("tiktok", [MediaKind.VIDEO], 1) == "video"
    assert derivative_store.placement_for("tiktok", [MediaKind.IMAGE], 4) == "photo"
    assert derivative_store.placement_for("google_business", [MediaKind.VIDEO], 1) is None


def test_every_derivative_key_is_a_storage_variant() -> None:
    for platform in ("facebook", "instagram", "x", "linkedin", "google_business", "pinterest"):
        for kind in (MediaKind.IMAGE, MediaKind.VIDEO):
            for target in derivatives.derivative_targets(platform, kind):
                key = derivatives.derivative_key(target, FocalPoint(0.123, 0.987))
                variant = derivative_store.derivative_variant(key)
                assert variant == key.replace(".", "_"), "readable where it fits"


async def test_every_platforms_copies_are_made_in_one_call_and_kept(
    tmp_path: Path, storage: Storage, admin_engine: AsyncEngine, app_db: Database
) -> None:
    agency = await make_agency(admin_engine)
    _media, sha256 = await _ready(
        admin_engine, app_db, storage, agency, write_phone_jpeg(tmp_path / "p.jpg", (1600, 1200))
    )
    targets = derivatives.targets_for(["instagram", "pinterest", "x"], MediaKind.IMAGE)
    async with app_db.transaction(agency) as session:
        story = await derivative_store.get_or_make(session, storage, agency, sha256, STORY)

    async with app_db.transaction(agency) as session:
        made = await derivative_store.get_or_make_all(session, storage, agency, sha256, targets)
    await storage.delete((await blob_row(admin_engine, agency, sha256))["clean_key"])
    async with app_db.transaction(agency) as session:
        again = await derivative_store.get_or_make_all(session, storage, agency, sha256, targets)
        with pytest.raises(ValueError, match="separate calls"):
            await derivative_store.get_or_make_all(
                session, storage, agency, sha256, [STORY, Target("instagram", "reel", cover=True)]
            )

    assert list(made) == targets
    assert again == made
    assert made[STORY] == story, "the one made before is reused"
    assert await count_rows(admin_engine, "media_derivative", agency) == len(targets)
    for stored in made.values():
        info = await storage.head(stored.storage_key)
        assert info is not None
        assert info.size == stored.facts.size_bytes
