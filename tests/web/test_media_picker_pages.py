"""Library media chosen in the web app (issue #17), through the forms a browser without script
posts: a franchisee's post from a template with a photo picked from the library (the post names
it), a photo whose usage rights have ended refused next to the picker, Instagram without a
photo said next to the picker; head office's template editor saving a draft with a picked
photo and showing it again, ticked, with its thumbnail in the preview."""

from __future__ import annotations

import re
import uuid
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from tests.support.campaigns import publish_template
from tests.support.web import hidden_value, sign_in
from tests.support.web_media import (
    MediaWorld,
    media_ids,
    media_world,
    person,
    phone_photo,
    process_waiting,
    upload_form,
)


def text_of(html: str) -> str:
    html = re.sub(r"</?(strong|a|span)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def ticked(html: str, name: str) -> list[str]:
    """The values of the checked checkboxes named ``name``."""
    return re.findall(rf'name="{re.escape(name)}" value="([^"]+)" checked', html)


async def _posts(engine: AsyncEngine, location_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT platform, media FROM post WHERE location_id = :l ORDER BY platform"),
            {"l": location_id},
        )
        return [dict(r._mapping) for r in rows]


async def _ready_photo(
    web: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    db: Database,
    world: MediaWorld,
    page: str,
    tmp_path: Path,
    name: str = "IMG_0001.jpg",
) -> uuid.UUID:
    """A phone photo uploaded from ``page`` and processed in this process."""
    before = set(await media_ids(engine, world.agency_id))
    sent = await upload_form(web, page, [(name, phone_photo(tmp_path, name), "image/jpeg")])
    assert sent.status_code == 303, sent.text
    assert await process_waiting(settings, db, engine, world.agency_id) == 1
    (media_id,) = set(await media_ids(engine, world.agency_id)) - before
    return media_id


async def _compose(
    web: httpx.AsyncClient, template_id: str, fields: dict[str, Any]
) -> httpx.Response:
    page = await web.get(f"/posts/new?template_id={template_id}")
    assert page.status_code == 200, page.text
    form = {
        "csrf_token": hidden_value(page.text, "csrf_token"),
        "form_key": hidden_value(page.text, "form_key"),
        "template_id": template_id,
        "when": "now",
        **fields,
    }
    return await web.post("/posts/new", data=form)


async def test_a_franchisee_posts_with_a_photo_picked_from_the_library(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    template_id = await publish_template(client, world.owner, world.brand["id"], "Fresh pizza")
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    photo = await _ready_photo(
        browser_client, admin_engine, settings, app_db, world, "/media", tmp_path
    )

    page = await browser_client.get(f"/posts/new?template_id={template_id}")
    shown = unescape(page.text)
    assert f'name="media.default" value="{photo}"' in shown
    assert f'name="media.instagram" value="{photo}"' in shown
    assert "IMG_0001.jpg" in text_of(page.text)

    # Instagram without a photo: said next to the pickers, nothing written.
    bare = await _compose(browser_client, template_id, {"platforms": ["instagram"]})
    assert bare.status_code == 422
    problems = re.search(r'id="media-default-problems">(.*?)</ul>', bare.text, re.S)
    assert problems is not None
    assert "Instagram needs a photo or a video." in text_of(problems.group(1))
    assert await _posts(admin_engine, world.location["id"]) == []

    made = await _compose(
        browser_client,
        template_id,
        {"platforms": ["facebook", "instagram"], "media.default": str(photo)},
    )
    assert made.status_code == 303, text_of(made.text)
    posts = await _posts(admin_engine, world.location["id"])
    assert [p["platform"] for p in posts] == ["facebook", "instagram"]
    for post in posts:
        assert post["media"] == [{"kind": "image", "media_id": str(photo)}]

    # The live preview (the script's POST /preview) reads the pickers too.
    token = hidden_value(page.text, "csrf_token")

    async def live(**fields: str) -> str:
        answer = await browser_client.post(
            "/preview",
            data={"template_id": template_id, "platforms": "instagram", **fields},
            headers={"X-CSRF-Token": token},
        )
        assert answer.status_code == 200, answer.text
        return text_of(answer.json()["html"])

    assert "Instagram needs a photo or a video." in await live()
    assert "Instagram needs a photo or a video." not in await live(**{"media.default": str(photo)})


async def test_a_photo_whose_rights_ended_is_refused_in_words(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    template_id = await publish_template(client, world.owner, world.brand["id"], "Fresh pizza")
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    photo = await _ready_photo(
        browser_client, admin_engine, settings, app_db, world, "/media", tmp_path
    )
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE media SET rights_expire_at = TIMESTAMPTZ '2024-03-01 12:00Z' "
                "WHERE agency_id = :a AND id = :i"
            ),
            {"a": world.agency_id, "i": photo},
        )
    page = await browser_client.get(f"/posts/new?template_id={template_id}")
    assert "Rights expired" in text_of(page.text)

    refused = await _compose(
        browser_client, template_id, {"platforms": ["facebook"], "media.default": str(photo)}
    )
    assert refused.status_code == 422
    words = text_of(refused.text)
    assert "Fix the problems shown next to the photos and videos." in words
    assert (
        "The usage rights of “IMG_0001.jpg” end on Mar 1, 2024, before this would be posted: "
        "choose another file." in words
    )
    assert ticked(unescape(refused.text), "media.default") == [str(photo)]  # kept as chosen
    assert '<p class="preview-media"><img src="/v1/media/files/' in refused.text
    assert await _posts(admin_engine, world.location["id"]) == []


async def test_another_locations_photo_is_not_offered_nor_taken(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    template_id = await publish_template(client, world.owner, world.brand["id"], "Fresh pizza")
    other = await person(
        client, admin_engine, world, "location_manager", location_id=world.other_location["id"]
    )
    await sign_in(browser_client, other)
    theirs = await _ready_photo(
        browser_client, admin_engine, settings, app_db, world, "/media", tmp_path, "port.jpg"
    )
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    page = await browser_client.get(f"/posts/new?template_id={template_id}")
    assert str(theirs) not in page.text
    refused = await _compose(
        browser_client, template_id, {"platforms": ["facebook"], "media.default": str(theirs)}
    )
    assert refused.status_code == 422
    assert "A chosen file is no longer in the media library; choose another." in text_of(
        refused.text
    )
    assert "port.jpg" not in refused.text
    assert await _posts(admin_engine, world.location["id"]) == []


async def test_head_office_saves_a_template_draft_with_a_picked_photo(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    created = await client.post(
        "/v1/templates",
        json={"brand_id": world.brand["id"], "name": "Summer", "bodies": {"default": "Hi"}},
        headers=world.owner.headers,
    )
    assert created.status_code == 201, created.text
    template_id = created.json()["template_id"]
    manager = await person(client, admin_engine, world, "brand_manager")
    await sign_in(browser_client, manager)
    photo = await _ready_photo(
        browser_client, admin_engine, settings, app_db, world, "/brand/media", tmp_path
    )
    path = f"/brand/templates/{template_id}"
    page = await browser_client.get(f"{path}?version=1")
    assert f'name="media-default-library" value="{photo}"' in page.text
    assert f'name="media-instagram-library" value="{photo}"' in page.text

    async def save(**fields: str) -> httpx.Response:
        shown = await browser_client.get(f"{path}?version=1")
        form = {
            "csrf_token": hidden_value(shown.text, "csrf_token"),
            "version": "1",
            "body.default": "Fresh pizza in {{ location.city }}",
            "action": "save",
            **fields,
        }
        return await browser_client.post(f"{path}/versions/1", data=form)

    saved = await save(**{"media-default-library": str(photo)})
    assert saved.status_code == 303, text_of(saved.text)
    stored = await client.get(
        f"/v1/templates/{template_id}/versions/1", headers=world.owner.headers
    )
    media = stored.json()["media"]
    assert list(media) == ["default"]
    assert [(m["kind"], m["media_id"], m["url"]) for m in media["default"]] == [
        ("image", str(photo), None)
    ]

    again = await browser_client.get(saved.headers["location"])
    assert ticked(again.text, "media-default-library") == [str(photo)]
    assert ticked(again.text, "media-instagram-library") == []
    preview = again.text[again.text.index('data-preview-for="template-editor"') :]
    assert re.search(r'<p class="preview-media"><img src="/v1/media/files/', preview)

    # Rights ended: refused next to the picker, kept ticked, the stored draft unchanged.
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE media SET rights_expire_at = now() - interval '1 day' "
                "WHERE agency_id = :a AND id = :i"
            ),
            {"a": world.agency_id, "i": photo},
        )
    refused = await save(**{"media-x-library": str(photo), "body.default": "Changed"})
    assert refused.status_code == 422
    problem = re.search(r'id="media-x-library-problem">([^<]*)</p>', refused.text)
    assert problem is not None
    assert "The usage rights of “IMG_0001.jpg” end on" in unescape(problem.group(1))
    assert ticked(refused.text, "media-x-library") == [str(photo)]
    assert "Rights expired" in text_of(refused.text)
    kept = await client.get(f"/v1/templates/{template_id}/versions/1", headers=world.owner.headers)
    assert kept.json()["bodies"]["default"] == "Fresh pizza in {{ location.city }}"
