"""A brand with a location and its people for the media pages (HTTP and browser tests share
it): the owner, a location manager, location staff, a brand manager and a brand viewer; real
photo and video files made by tests/media/files.py; the worker's processing run in process
(``shared.media.processing.process_upload``) against the app's own media storage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from shared.media import processing
from shared.media.storage import storage_from_settings
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.media.files import write_phone_jpeg, write_png_with_alpha, write_svg_with_script
from tests.support.access import invite_and_accept
from tests.support.campaigns import publish_template
from tests.support.web import hidden_value


@dataclass
class MediaWorld:
    owner: Tenant
    brand: dict[str, Any]
    location: dict[str, Any]
    other_location: dict[str, Any]

    @property
    def agency_id(self) -> uuid.UUID:
        return self.owner.agency_id


async def media_world(client: httpx.AsyncClient, name: str = "Slice & Co") -> MediaWorld:
    owner = await sign_up(client)
    brand = await create_brand(client, owner, name)
    location = await create_location(client, owner, brand["id"], name="Athens Centre")
    other = await create_location(client, owner, brand["id"], name="Thessaloniki Port")
    return MediaWorld(owner, brand, location, other)


async def person(
    client: httpx.AsyncClient, engine: AsyncEngine, world: MediaWorld, role: str, **scope: str
) -> str:
    """A member with ``role``: at the location for location roles, else at the brand."""
    email = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:8]}@example.com"
    if not scope:
        scope = (
            {"location_id": world.location["id"]}
            if role.startswith("location_")
            else {"brand_id": world.brand["id"]}
        )
    await invite_and_accept(client, engine, world.owner, email, role, **scope)
    return email


def phone_photo(folder: Path, name: str = "IMG_0001.jpg") -> bytes:
    """A rotated phone photo with GPS in its EXIF (small, for speed)."""
    return write_phone_jpeg(folder / name, size=(1200, 900)).read_bytes()


def png_photo(folder: Path, name: str = "logo.png") -> bytes:
    return write_png_with_alpha(folder / name, size=(640, 480)).read_bytes()


def svg_file(folder: Path) -> bytes:
    return write_svg_with_script(folder / "evil.svg").read_bytes()


async def upload_form(
    web: httpx.AsyncClient,
    page: str,
    files: list[tuple[str, bytes, str]],
    **fields: str,
) -> httpx.Response:
    """The library page's upload form as a browser without script sends it: the CSRF token
    first, then the fields and every chosen file under ``file``."""
    shown = await web.get(page)
    assert shown.status_code == 200, shown.text
    action = page.split("?", 1)[0] + "/upload"
    data = {"csrf_token": hidden_value(shown.text, "csrf_token"), **fields}
    return await web.post(
        action, data=data, files=[("file", (n, content, mime)) for n, content, mime in files]
    )


async def post_page_form(
    web: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    token = hidden_value((await web.get(page)).text, "csrf_token")
    return await web.post(action, data={**data, "csrf_token": token})


async def media_ids(engine: AsyncEngine, agency_id: uuid.UUID) -> list[uuid.UUID]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id FROM media WHERE agency_id = :a ORDER BY created_at, id"),
            {"a": agency_id},
        )
        return [row.id for row in rows]


async def media_rows(engine: AsyncEngine, agency_id: uuid.UUID) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM media WHERE agency_id = :a ORDER BY created_at, id"),
            {"a": agency_id},
        )
        return [dict(row._mapping) for row in rows]


async def process_waiting(
    settings: Settings, db: Database, engine: AsyncEngine, agency_id: uuid.UUID
) -> int:
    """Runs the worker's processing for every media of the agency still waiting, in this
    process, on the app's media storage (the same folder the server under test uses)."""
    async with engine.connect() as conn:
        waiting = [
            row.id
            for row in await conn.execute(
                text("SELECT id FROM media WHERE agency_id = :a AND status = 'processing'"),
                {"a": agency_id},
            )
        ]
    storage = storage_from_settings(settings)
    try:
        for media_id in waiting:
            await processing.process_upload(db, storage, agency_id, media_id)
    finally:
        await storage.aclose()
    return len(waiting)


async def post_using(
    client: httpx.AsyncClient, engine: AsyncEngine, world: MediaWorld, media_id: uuid.UUID
) -> uuid.UUID:
    """A post of the location scheduled for tomorrow naming the media (as a post made from
    the library does)."""
    template_id = await publish_template(client, world.owner, world.brand["id"], "Fresh pizza")
    post_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO post (agency_id, id, brand_id, location_id, template_id, "
                "template_version, platform, text, media, status, scheduled_at) VALUES "
                "(:a, :p, :b, :l, :t, 1, 'facebook', 'x', CAST(:m AS jsonb), 'scheduled', "
                "now() + interval '1 day')"
            ),
            {
                "a": world.agency_id,
                "p": post_id,
                "b": world.brand["id"],
                "l": world.location["id"],
                "t": template_id,
                "m": f'[{{"kind": "image", "media_id": "{media_id}"}}]',
            },
        )
    return post_id
