"""The journey of issue #17: a brand's photo and a phone's vertical video go into the media
library, two campaigns use them — a photo to Instagram's feed and the video to TikTok, and
the same video as an Instagram Reel — and a real worker (in this process) publishes them
through the sandbox, each platform fetching a signed Chorus link and taking the file it got:
the photo cut to Instagram's 4:5, the video as it is (remuxed without its location), its
cover for the Reel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import clock
from shared.config import Settings
from shared.db import Database
from tests.factories import create_brand, create_location, sign_up
from tests.media import files
from tests.media.posting import (
    api_server,
    publishing_settings,
    ready_media,
    received,
    received_bytes,
)
from tests.media.uploads import PHONE_LOCATION, PHONE_VIDEO_TITLE, write_phone_video
from tests.support.campaigns import campaign_body, create_campaign, launch_and_fan_out
from tests.support.publish_worker import running_worker, wait_for
from tests.support.social_accounts import connect
from tests.support.web import WebServer

__all__ = ["api_server"]  # the module's fixture


async def _template(
    client: httpx.AsyncClient, headers: dict[str, str], brand_id: str, media: dict[str, Any]
) -> str:
    created = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": f"Spring {len(media)} {sorted(media)}",
            "bodies": {"default": "Spring menu in {{ location.city }} #spring"},
            "media": media,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["id"])
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=headers
    )
    assert published.status_code == 200, published.text
    return template_id


async def test_a_photo_and_a_reel_to_instagram_and_a_video_to_tiktok_go_out_as_each_takes_them(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    admin_engine: AsyncEngine,
    worker_ctx: dict[str, Any],
    api_server: WebServer,
    tmp_path: Path,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], city="Porto")
    for platform in ("instagram", "tiktok"):
        await connect(client, owner.headers, location["id"], platform)
    photo = await ready_media(
        client,
        settings,
        app_db,
        owner,
        files.write_phone_jpeg(tmp_path / "IMG_3001.JPG", size=(1600, 1200)),
        brand_id=brand["id"],
        name="Spring plate",
    )
    reel = await ready_media(
        client,
        settings,
        app_db,
        owner,
        write_phone_video(tmp_path / "IMG_3002.MOV", seconds=3.5),
        brand_id=brand["id"],
        name="Kitchen clip",
    )
    assert reel["type"] == "mp4"
    video = {"kind": "video", "media_id": reel["id"]}
    feed_and_tiktok = await _template(
        client,
        owner.headers,
        brand["id"],
        {"instagram": [{"kind": "image", "media_id": photo["id"]}], "tiktok": [video]},
    )
    reel_only = await _template(client, owner.headers, brand["id"], {"instagram": [video]})
    at = (clock.now() + timedelta(minutes=5)).isoformat()
    campaigns = [
        await create_campaign(
            client,
            owner.headers,
            campaign_body(
                brand["id"],
                template_id,
                name=name,
                channels=channels,
                schedule={"kind": "absolute", "at": at},
            ),
        )
        for name, template_id, channels in (
            ("Spring photo and video", feed_and_tiktok, ["instagram", "tiktok"]),
            ("Spring reel", reel_only, ["instagram"]),
        )
    ]
    for campaign in campaigns:
        await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
    async with admin_engine.begin() as conn:
        statuses = (
            await conn.execute(
                text("SELECT platform, status, status_reason FROM post WHERE agency_id = :a"),
                {"a": owner.agency_id},
            )
        ).all()
        assert sorted((s.platform, s.status) for s in statuses) == [
            ("instagram", "scheduled"),
            ("instagram", "scheduled"),
            ("tiktok", "scheduled"),
        ], statuses
        # Their time comes now.
        await conn.execute(
            text("UPDATE post SET due_at = now() WHERE agency_id = :a"), {"a": owner.agency_id}
        )

    async def all_out() -> list[Any] | None:
        async with admin_engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT platform, status, status_reason FROM post WHERE agency_id = :a"),
                    {"a": owner.agency_id},
                )
            ).all()
        ended = all(r.status in ("published", "failed", "skipped") for r in rows)
        return list(rows) if ended else None

    async with running_worker(publishing_settings(settings, api_server)):
        rows = await wait_for(all_out, 60)
    assert sorted((r.platform, r.status) for r in rows) == [
        ("instagram", "published"),
        ("instagram", "published"),
        ("tiktok", "published"),
    ], rows

    instagram = await received(sandbox, "instagram")
    by_kind = {(got["placement"], got["facts"]["type"]): got for got in instagram}
    assert set(by_kind) == {("feed", "jpeg"), ("reel", "mp4"), ("reel", "jpeg")}
    assert all(got["accepted"] for got in instagram), instagram
    feed_photo = by_kind[("feed", "jpeg")]["facts"]
    assert (feed_photo["width"], feed_photo["height"]) == (1080, 1350)  # 3:4 cut to 4:5
    reel_file = by_kind[("reel", "mp4")]["facts"]
    assert (reel_file["width"], reel_file["height"]) == (720, 1280)
    assert reel_file["video_codec"] == "h264"
    assert 3.0 <= reel_file["duration_seconds"] <= 4.0
    cover = by_kind[("reel", "jpeg")]["facts"]
    assert cover["width"] / cover["height"] == 9 / 16  # the Reel's cover, cut from the poster
    [tiktok] = await received(sandbox, "tiktok")
    assert tiktok["accepted"]
    assert tiktok["placement"] == "video"
    assert tiktok["sha256"] == by_kind[("reel", "mp4")]["sha256"]  # one clean copy for both
    for platform, items in (("instagram", instagram), ("tiktok", [tiktok])):
        for index, got in enumerate(items):
            data = await received_bytes(sandbox, platform, index)
            assert not got["gps"]
            assert files.metadata_found(data) == []
            assert PHONE_LOCATION.encode() not in data
            assert PHONE_VIDEO_TITLE.encode() not in data
    posts = (await sandbox.get("/_sandbox/posts/instagram")).json()["data"]
    assert len(posts) == 2
