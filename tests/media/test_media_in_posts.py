"""Library media in templates and local posts (issue #17), as a brand manager and a franchisee
use them: a phone photo from the library (GPS in its EXIF, a focal point set) published from
a template to Facebook, Instagram, X and Pinterest, each platform receiving a copy it takes and
no GPS in any byte; a local post whose photo's usage rights have ended fails saying so and the
location is told; media of another agency or another location refused when saved."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import clock
from shared.config import Settings
from shared.db import Database
from shared.publishing.limiter import AccountLimiter
from shared.publishing.publisher import Publisher
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.media import files
from tests.media.posting import (
    api_server,
    publishing_settings,
    ready_media,
    received,
    received_bytes,
    upload,
)
from tests.support.campaigns import campaign_body, create_campaign, launch_and_fan_out
from tests.support.publishing import cycle, state
from tests.support.social_accounts import connect
from tests.support.web import WebServer

__all__ = ["api_server"]  # the module's fixture

PLATFORMS = ["facebook", "instagram", "x", "pinterest"]


async def _template(
    client: httpx.AsyncClient, owner: Tenant, brand_id: str, media: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": f"Terrace {uuid.uuid4().hex[:6]}",
            "bodies": {"default": "Sun on the terrace in {{ location.city }}"},
            "titles": {"pinterest": "Our terrace"},
            "media": media,
        },
        headers=owner.headers,
    )


async def _published_template(
    client: httpx.AsyncClient, owner: Tenant, brand_id: str, media: dict[str, Any]
) -> str:
    created = await _template(client, owner, brand_id, media)
    assert created.status_code == 201, created.text
    template_id = str(created.json()["id"])
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    return template_id


async def _local_post(
    client: httpx.AsyncClient,
    owner: Tenant,
    location_id: str,
    template_id: str,
    platforms: list[str],
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/locations/{location_id}/posts",
        json={"template_id": template_id, "version": 1, "platforms": platforms, **extra},
        headers=owner.headers,
    )


def _publisher(app_db: Database, redis: Redis, settings: Settings) -> Publisher:
    return Publisher(app_db, AccountLimiter(redis), settings)


async def test_a_library_photo_reaches_four_platforms_as_a_copy_each_takes_without_gps(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    redis: Redis,
    admin_engine: AsyncEngine,
    api_server: WebServer,
    tmp_path: Path,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], city="Leeds")
    for platform in PLATFORMS:
        await connect(client, owner.headers, location["id"], platform)
    # A portrait phone photo (shown 1500×2000, GPS and camera in its EXIF): no platform's
    # shape, and Instagram's feed refuses 3:4.
    phone = files.write_phone_jpeg(tmp_path / "IMG_2041.JPG", size=(2000, 1500))
    photo = await ready_media(
        client, settings, app_db, owner, phone, brand_id=brand["id"], name="Terrace"
    )
    focal = await client.patch(
        f"/v1/media/{photo['id']}",
        json={"focal_point": {"x": 0.5, "y": 0.2}},
        headers=owner.headers,
    )
    assert focal.status_code == 200, focal.text
    template_id = await _published_template(
        client, owner, brand["id"], {"default": [{"kind": "image", "media_id": photo["id"]}]}
    )

    preview = await client.post(
        f"/v1/templates/{template_id}/versions/1/preview",
        json={"location_id": location["id"], "platforms": PLATFORMS},
        headers=owner.headers,
    )
    assert preview.status_code == 200, preview.text
    # What is sent is each platform's derivative: a 3:4 photo is fine everywhere.
    assert preview.json()["ok"], preview.json()

    made = await _local_post(client, owner, location["id"], template_id, PLATFORMS)
    assert made.status_code == 201, made.text
    assert {p["platform"] for p in made.json()} == set(PLATFORMS)
    for post in made.json():
        assert post["media"] == [{"kind": "image", "media_id": photo["id"]}]

    publisher = _publisher(app_db, redis, publishing_settings(settings, api_server))
    assert await cycle(app_db, publisher) == len(PLATFORMS)
    for post in made.json():
        after = await state(admin_engine, post["id"])
        assert after["status"] == "published", (post["platform"], after["status_reason"])

    # Each platform's shape and size: (aspect ratio width ÷ height, widest, tallest).
    expected = {
        "facebook": (3 / 4, 1920, 1920),  # any shape, at most 1920 px: shrunk to fit
        "instagram": (4 / 5, 1080, 1350),  # 3:4 is out of the feed's range: cut to 4:5
        "x": (3 / 4, 1920, 1920),
        "pinterest": (2 / 3, 1000, 1500),  # cut to 2:3, around the focal point
    }
    for platform in PLATFORMS:
        [got] = await received(sandbox, platform)
        assert got["accepted"], (platform, got["problems"])
        if platform == "x":  # X takes the bytes: Chorus fetched its link and uploaded them
            assert got["source"] == "upload"
        else:  # the others fetch the signed link themselves
            assert got["source"].startswith(f"{api_server.url}/v1/media/files/agencies/")
        assert got["content_type"] == "image/jpeg"
        facts = got["facts"]
        aspect, widest, tallest = expected[platform]
        assert facts["type"] == "jpeg"
        assert abs(facts["width"] / facts["height"] - aspect) < 0.005, (platform, facts)
        assert facts["width"] <= widest, (platform, facts)
        assert facts["height"] <= tallest, (platform, facts)
        assert max(facts["width"], facts["height"]) >= min(widest, tallest) - 3, (platform, facts)
        assert got["gps"] is False
        data = await received_bytes(sandbox, platform, 0)
        assert files.metadata_found(data) == [], platform
        assert len(data) == got["size_bytes"] <= 5 * 1024 * 1024


async def test_a_post_whose_photo_rights_have_ended_fails_saying_so_and_the_location_is_told(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    redis: Redis,
    admin_engine: AsyncEngine,
    api_server: WebServer,
    tmp_path: Path,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    await connect(client, owner.headers, location["id"], "facebook")
    template_id = await _published_template(client, owner, brand["id"], {})
    photo = await ready_media(
        client,
        settings,
        app_db,
        owner,
        files.write_marked_photo(tmp_path / "model.jpg", (800, 600), (0.5, 0.5)),
        location_id=location["id"],
        name="Model shoot",
    )
    ends = clock.now() + timedelta(days=2)
    set_rights = await client.patch(
        f"/v1/media/{photo['id']}",
        json={"rights_expire_at": ends.isoformat()},
        headers=owner.headers,
    )
    assert set_rights.status_code == 200, set_rights.text
    made = await _local_post(
        client,
        owner,
        location["id"],
        template_id,
        ["facebook"],
        media={"default": [{"kind": "image", "media_id": photo["id"]}]},
    )
    assert made.status_code == 201, made.text
    [post] = made.json()
    gone = await ready_media(
        client,
        settings,
        app_db,
        owner,
        files.write_marked_photo(tmp_path / "old.jpg", (640, 480), (0.5, 0.5)),
        location_id=location["id"],
        name="Old sign",
    )
    other = await _local_post(
        client,
        owner,
        location["id"],
        template_id,
        ["facebook"],
        media={"default": [{"kind": "image", "media_id": gone["id"]}]},
    )
    assert other.status_code == 201, other.text
    [gone_post] = other.json()

    # Publish time comes after the rights ended, and after the other photo was deleted
    # (the API refuses while a post uses it; the row says what a race would leave).
    ended = clock.now() - timedelta(days=1)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE media SET rights_expire_at = :at WHERE id = :id"),
            {"at": ended, "id": photo["id"]},
        )
        await conn.execute(
            text("UPDATE media SET deleted_at = now() WHERE id = :id"), {"id": gone["id"]}
        )
    publisher = _publisher(app_db, redis, publishing_settings(settings, api_server))
    assert await cycle(app_db, publisher) == 2
    deleted = await state(admin_engine, gone_post["id"])
    assert deleted["status"] == "failed"
    assert "media “Old sign” was deleted from the media library" in deleted["status_reason"]

    after = await state(admin_engine, post["id"])
    reason = f"the usage rights of “Model shoot” ended on {ended.date().isoformat()}"
    assert after["status"] == "failed"
    assert reason in after["status_reason"]
    assert after["history"][-1] == ("queued", "failed")
    assert await received(sandbox, "facebook") == []  # nothing was sent
    async with admin_engine.connect() as conn:
        told = (
            await conn.execute(
                text(
                    "SELECT location_id, payload FROM outbox_event "
                    "WHERE type = 'post.failed' AND subject_id = :id"
                ),
                {"id": post["id"]},
            )
        ).one()
    assert str(told.location_id) == location["id"]
    assert reason in told.payload["reason"]
    shown = await client.get(f"/v1/posts/{post['id']}", headers=owner.headers)
    assert reason in shown.json()["status_reason"]


async def test_media_of_another_agency_or_another_location_is_refused_when_saved(
    client: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    other_brand = await create_brand(client, owner)
    l1 = await create_location(client, owner, brand["id"])
    l2 = await create_location(client, owner, brand["id"])
    photo_path = files.write_marked_photo(tmp_path / "shop.jpg", (640, 480), (0.5, 0.5))
    outsider = await sign_up(client)
    theirs = await ready_media(client, settings, app_db, outsider, photo_path, name="Theirs")
    l2_own = await ready_media(
        client, settings, app_db, owner, photo_path, location_id=l2["id"], name="L2 window"
    )
    other_brands = await ready_media(
        client, settings, app_db, owner, photo_path, brand_id=other_brand["id"], name="Other"
    )
    waiting = await upload(client, owner, photo_path, brand_id=brand["id"], name="Not yet")

    refused = await _template(
        client,
        owner,
        brand["id"],
        {
            "instagram": [
                {"kind": "image", "media_id": theirs["id"]},
                {"kind": "image", "media_id": l2_own["id"]},
                {"kind": "image", "media_id": other_brands["id"]},
                {"kind": "image", "media_id": waiting["id"]},
                {"kind": "image", "media_id": "IMG_0001"},
            ]
        },
    )
    assert refused.status_code == 422, refused.text
    problems = {e["field"]: e for e in refused.json()["errors"]}
    field = "body.media.instagram.{}.media_id".format
    assert problems[field(0)]["code"] == "media_not_found"
    assert "Theirs" not in problems[field(0)]["message"]  # nothing of another agency's said
    assert problems[field(1)]["code"] == "media_not_usable"
    assert problems[field(2)]["code"] == "media_not_usable"
    assert problems[field(3)]["code"] == "media_processing"
    assert "wait" in problems[field(3)]["message"]
    assert problems[field(4)]["code"] == "media_id_invalid"
    assert len(problems) == 5

    template_id = await _published_template(client, owner, brand["id"], {})
    post_with = "default"
    mine = await _local_post(
        client,
        owner,
        l1["id"],
        template_id,
        ["facebook"],
        media={post_with: [{"kind": "image", "media_id": l2_own["id"]}]},
    )
    assert mine.status_code == 422, mine.text
    [problem] = mine.json()["errors"]
    assert problem["field"] == "body.media.default.0.media_id"
    assert problem["code"] == "media_not_usable"
    wrong_kind = await _local_post(
        client,
        owner,
        l2["id"],
        template_id,
        ["facebook"],
        media={"facebook": [{"kind": "video", "media_id": l2_own["id"]}]},
    )
    assert wrong_kind.status_code == 422, wrong_kind.text
    assert [e["field"] for e in wrong_kind.json()["errors"]] == ["body.media.facebook.0.kind"]
    # The location's own photo in its own post is fine, and the url form still is.
    own = await _local_post(
        client,
        owner,
        l2["id"],
        template_id,
        ["facebook"],
        media={"default": [{"kind": "image", "media_id": l2_own["id"]}]},
    )
    assert own.status_code == 201, own.text
    by_url = await _local_post(
        client,
        owner,
        l1["id"],
        template_id,
        ["facebook"],
        media={"default": [{"kind": "image", "url": "https://cdn.example/pizza.jpg"}]},
    )
    assert by_url.status_code == 201, by_url.text


async def test_content_checks_use_what_will_be_sent_and_name_every_broken_limit(
    client: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    # A 2 s clip: too short for a Reel and for TikTok (3 s at least), fine on Facebook.
    clip = await ready_media(
        client,
        settings,
        app_db,
        owner,
        files.write_video(tmp_path / "clip.mp4", size=(720, 1280), seconds=2.0),
        brand_id=brand["id"],
    )
    # A wide panorama: Instagram's feed refuses 4:1, but its 1.91:1 derivative is fine.
    wide = await ready_media(
        client,
        settings,
        app_db,
        owner,
        files.write_marked_photo(tmp_path / "wide.jpg", (2400, 600), (0.5, 0.5)),
        brand_id=brand["id"],
    )
    created = await _template(
        client,
        owner,
        brand["id"],
        {
            "instagram": [{"kind": "video", "media_id": clip["id"]}],
            "tiktok": [{"kind": "video", "media_id": clip["id"]}],
            "facebook": [{"kind": "video", "media_id": clip["id"]}],
            "x": [{"kind": "image", "media_id": wide["id"]}],
            "pinterest": [{"kind": "image", "media_id": wide["id"]}],
        },
    )
    assert created.status_code == 201, created.text
    preview = await client.post(
        f"/v1/templates/{created.json()['id']}/versions/1/preview",
        json={
            "location_id": location["id"],
            "platforms": ["instagram", "tiktok", "facebook", "x", "pinterest", "youtube"],
        },
        headers=owner.headers,
    )
    assert preview.status_code == 200, preview.text
    results = {r["platform"]: r for r in preview.json()["platforms"]}

    def media(platform: str) -> list[tuple[str, str, Any, Any]]:
        return [
            (p["code"], p["field"], p["limit"], p["actual"])
            for p in results[platform]["problems"]
            if p["field"].startswith("media")
        ]

    assert media("instagram") == [("duration_too_short", "media[0].duration_seconds", 3, 2.0)]
    assert media("tiktok") == [("duration_too_short", "media[0].duration_seconds", 3, 2.0)]
    assert "Instagram Reel" in results["instagram"]["problems"][0]["message"]
    assert media("facebook") == []
    assert media("x") == []
    assert media("pinterest") == []
    # YouTube takes only video, and this version gives it nothing.
    assert "media_required" in [p["code"] for p in results["youtube"]["problems"]]


async def test_fan_out_skips_a_channel_whose_library_video_the_platform_would_refuse(
    client: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    tmp_path: Path,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    for platform in ("tiktok", "facebook"):
        await connect(client, owner.headers, location["id"], platform)
    clip = await ready_media(
        client,
        settings,
        app_db,
        owner,
        files.write_video(tmp_path / "teaser.mp4", size=(720, 1280), seconds=2.0),
        brand_id=brand["id"],
        name="Teaser",
    )
    template_id = await _published_template(
        client, owner, brand["id"], {"default": [{"kind": "video", "media_id": clip["id"]}]}
    )
    campaign = await create_campaign(
        client,
        owner.headers,
        campaign_body(
            brand["id"],
            template_id,
            channels=["tiktok", "facebook"],
            schedule={"kind": "absolute", "at": (clock.now() + timedelta(hours=2)).isoformat()},
        ),
    )
    await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
    async with admin_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT platform, status, status_reason FROM post WHERE campaign_id = :c"),
                {"c": campaign["id"]},
            )
        ).all()
    by_platform = {r.platform: r for r in rows}
    assert by_platform["facebook"].status == "scheduled"  # 1 s is Facebook's minimum
    assert by_platform["tiktok"].status == "skipped"
    assert "TikTok video: file 1 (Teaser) lasts 2.0 s" in by_platform["tiktok"].status_reason
