"""The media pages as a franchisee and head office use them, through the forms a browser
without script posts (``browser_client`` keeps cookies; every form carries its CSRF token):
several files in one upload form (a refused one named with why, the others kept), the grid's
states (being prepared with progress, ready with a thumbnail served without GPS, failed with
why), search by name, tag, folder and kind, a media's page (facts, edits with each problem
next to its field, focal point, rights expiry and its badge, where it is used), delete
refused while a post uses it and restore, the large-file route in pieces, the picker, the
plan's 402 as the upgrade page, who may do what, and a fixed number of statements per page
whatever the number of media."""

from __future__ import annotations

import base64
import re
import uuid
from html import unescape
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from tests.media.files import metadata_found
from tests.support.web import StatementCounter, hidden_value, sign_in
from tests.support.web_agency import set_billing
from tests.support.web_media import (
    media_ids,
    media_rows,
    media_world,
    person,
    phone_photo,
    png_photo,
    post_page_form,
    post_using,
    process_waiting,
    svg_file,
    upload_form,
)


def card_names(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<span class="media-name">([^<]*)</span>', html)]


def thumbs(html: str) -> list[str]:
    return [unescape(s) for s in re.findall(r'<img src="([^"]+)" width="\d+" height="\d+"', html)]


def text_of(html: str) -> str:
    """What a reader sees: inline markup (strong, a, span) joined to its neighbours."""
    html = re.sub(r"</?(strong|a|span)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# Upload, states, search ---------------------------------------------------------------------


async def test_a_location_manager_uploads_several_files_and_finds_them_ready(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)

    sent = await upload_form(
        browser_client,
        "/media",
        [
            ("IMG_0001.jpg", phone_photo(tmp_path), "image/jpeg"),
            ("evil.svg", svg_file(tmp_path), "image/svg+xml"),
            ("logo.png", png_photo(tmp_path), "image/png"),
        ],
        folder=" Summer / 2026 ",
        tags="Pizza, summer",
    )
    assert sent.status_code == 200, sent.text
    page = text_of(sent.text)
    assert "2 files are uploaded and being prepared." in page
    assert "evil.svg: This is not a photo or video Chorus takes." in page
    rows = sorted(await media_rows(admin_engine, world.agency_id), key=lambda r: r["name"])
    assert [(r["name"], r["status"]) for r in rows] == [
        ("IMG_0001.jpg", "processing"),
        ("logo.png", "processing"),
    ]
    assert {str(r["location_id"]) for r in rows} == {world.location["id"]}
    assert {r["folder"] for r in rows} == {"Summer/2026"}
    assert rows[0]["tags"] == ["pizza", "summer"]

    listed = await browser_client.get("/media")
    assert "Being prepared" in text_of(listed.text)
    assert "data-processing" in listed.text
    assert thumbs(listed.text) == []  # nothing is served before it is processed

    assert await process_waiting(settings, app_db, admin_engine, world.agency_id) == 2
    ready = await browser_client.get("/media")
    assert "data-processing" not in ready.text
    shown = thumbs(ready.text)
    assert len(shown) == 2
    for src in shown:
        assert src.startswith("/v1/media/files/")
        served = await browser_client.get(src)
        assert served.status_code == 200
        assert served.headers["content-type"] in ("image/jpeg", "image/png")
        assert metadata_found(served.content) == []  # no EXIF, GPS, XMP or comment

    by_tag = await browser_client.get("/media", params={"tag": "PIZZA"})
    assert sorted(card_names(by_tag.text)) == ["IMG_0001.jpg", "logo.png"]
    by_name = await browser_client.get("/media", params={"q": "logo"})
    assert card_names(by_name.text) == ["logo.png"]
    by_folder = await browser_client.get("/media", params={"folder": "Summer"})
    assert len(card_names(by_folder.text)) == 2
    assert '<option value="Summer/2026"' in by_folder.text
    videos = await browser_client.get("/media", params={"kind": "video"})
    assert card_names(videos.text) == []
    assert "No media matches." in text_of(videos.text)
    odd = await browser_client.get("/media", params={"kind": "pdf", "status": "lost"})
    assert odd.status_code == 200
    assert "Choose a kind from the list." in text_of(odd.text)


async def test_one_photo_opens_its_page_and_a_failed_file_says_why(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    sent = await upload_form(
        browser_client, "/media", [("IMG_0001.jpg", phone_photo(tmp_path), "image/jpeg")]
    )
    assert sent.status_code == 303
    (media_id,) = await media_ids(admin_engine, world.agency_id)
    assert sent.headers["location"] == f"/media/{media_id}?done=uploaded"
    opened = await browser_client.get(sent.headers["location"])
    assert "Uploaded. Chorus is preparing the files" in text_of(opened.text)

    # A JPEG cut short: accepted by its first bytes, refused by the worker, shown in words.
    cut = phone_photo(tmp_path, "cut.jpg")[:5000]
    await upload_form(browser_client, "/media", [("cut.jpg", cut, "image/jpeg")])
    await process_waiting(settings, app_db, admin_engine, world.agency_id)
    listed = text_of((await browser_client.get("/media")).text)
    assert "Could not be used: The file is damaged or cut short." in listed
    page = text_of((await browser_client.get(f"/media/{media_id}")).text)
    assert "1,200 × 900 pixels" in page or "900 × 1,200 pixels" in page
    assert "Photo (JPEG)" in page


async def test_uploads_are_refused_in_words(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    nothing = await upload_form(browser_client, "/media", [("", b"", "application/octet-stream")])
    assert nothing.status_code == 422
    assert "Choose at least one photo or video." in text_of(nothing.text)
    only_svg = await upload_form(browser_client, "/media", [("a.svg", svg_file(tmp_path), "")])
    assert only_svg.status_code == 415
    assert "It takes JPEG, PNG, WebP, HEIC/HEIF, GIF, MP4, MOV." in text_of(only_svg.text)
    bad_tags = await upload_form(
        browser_client,
        "/media",
        [("a.jpg", phone_photo(tmp_path), "image/jpeg")],
        tags="x" * 51,
    )
    assert bad_tags.status_code == 422
    assert 'id="upload_tags-problem"' in bad_tags.text
    assert await media_ids(admin_engine, world.agency_id) == []

    # The Starter plan's storage is full: the upgrade page, and nothing stored.
    await set_billing(admin_engine, world.agency_id, plan="starter")
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO media (agency_id, id, status, progress, upload_key, upload_size, "
                "upload_type, name) VALUES (:a, :i, 'processing', 0, 'x', :s, 'jpeg', 'big')"
            ),
            {"a": world.agency_id, "i": uuid.uuid4(), "s": 10 * 1024**3 - 1000},
        )
    full = await upload_form(
        browser_client, "/media", [("a.jpg", phone_photo(tmp_path), "image/jpeg")]
    )
    assert full.status_code == 402
    assert "Your plan does not include this" in text_of(full.text)
    assert "Ask your agency's owner to upgrade the plan." in text_of(full.text)
    assert len(await media_ids(admin_engine, world.agency_id)) == 1


# One media ----------------------------------------------------------------------------------


async def test_edit_focal_point_rights_and_usage_then_delete_and_restore(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    await upload_form(browser_client, "/media", [("a.jpg", phone_photo(tmp_path), "image/jpeg")])
    (media_id,) = await media_ids(admin_engine, world.agency_id)
    await process_waiting(settings, app_db, admin_engine, world.agency_id)
    url = f"/media/{media_id}"
    edit = {
        "name": "Margherita",
        "folder": "Menu",
        "tags": "pizza, Menu",
        "focal_x": "25",
        "focal_y": "70.5",
        "rights_until": "2020-01-31",
    }
    bad = await post_page_form(
        browser_client, url, f"{url}/edit", {**edit, "focal_x": "150", "rights_until": "soon"}
    )
    assert bad.status_code == 422
    assert 'id="focal_x-problem"' in bad.text
    assert 'id="rights_until-problem"' in bad.text
    assert 'value="Margherita"' in bad.text  # what was typed stays
    saved = await post_page_form(browser_client, url, f"{url}/edit", edit)
    assert saved.status_code == 303, saved.text
    (row,) = await media_rows(admin_engine, world.agency_id)
    assert (row["name"], row["folder"], row["tags"]) == ("Margherita", "Menu", ["pizza", "menu"])
    assert (row["focal_x"], row["focal_y"]) == (0.25, 0.705)
    page = await browser_client.get(saved.headers["location"])
    assert "The changes are saved." in text_of(page.text)
    assert "Rights expired" in text_of(page.text)
    assert 'value="2020-01-31"' in page.text
    listed = await browser_client.get("/media", params={"tag": "menu"})
    assert card_names(listed.text) == ["Margherita"]
    assert "Rights expired" in text_of(listed.text)

    post_id = await post_using(client, admin_engine, world, media_id)
    in_use = await post_page_form(browser_client, url, f"{url}/delete", {})
    assert in_use.status_code == 409
    assert "1 post not yet published uses this media." in text_of(in_use.text)
    assert f'href="/posts/{post_id}"' in in_use.text
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET status = 'published' WHERE id = :p"), {"p": post_id}
        )
    deleted = await post_page_form(browser_client, url, f"{url}/delete", {})
    assert deleted.status_code == 303
    assert card_names((await browser_client.get("/media")).text) == []
    bin_ = await browser_client.get("/media", params={"deleted": "1"})
    assert card_names(bin_.text) == ["Margherita"]
    restored = await post_page_form(browser_client, "/media?deleted=1", f"{url}/restore", {})
    assert restored.status_code == 303
    assert card_names((await browser_client.get("/media")).text) == ["Margherita"]


# Large files in pieces (what media_upload.js sends) -------------------------------------------


async def test_a_file_in_pieces_becomes_a_media_and_a_lying_one_is_refused(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    token = hidden_value((await browser_client.get("/media")).text, "csrf_token")
    photo = phone_photo(tmp_path)

    def meta(**values: str) -> str:
        return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())

    headers = {"X-CSRF-Token": token, "Tus-Resumable": "1.0.0"}
    no_token = await browser_client.post(
        "/media/uploads", headers={"Upload-Length": str(len(photo))}
    )
    assert no_token.status_code == 403
    created = await browser_client.post(
        "/media/uploads?scope=location",
        headers={**headers, "Upload-Length": str(len(photo)),
                 "Upload-Metadata": meta(filename="Πίτσα.jpg", tags="pizza", library="brand")},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    upload = created.headers["location"]
    half = len(photo) // 2
    patch = {**headers, "Content-Type": "application/offset+octet-stream"}
    first = await browser_client.patch(
        upload, content=photo[:half], headers={**patch, "Upload-Offset": "0"}
    )
    assert first.status_code == 204
    assert first.headers["upload-offset"] == str(half)
    assert (await browser_client.head(upload)).headers["upload-offset"] == str(half)
    last = await browser_client.patch(
        upload, content=photo[half:], headers={**patch, "Upload-Offset": str(half)}
    )
    assert last.status_code == 204
    (row,) = await media_rows(admin_engine, world.agency_id)
    assert last.headers["chorus-media-id"] == str(row["id"])
    # A location's people add to their own library, whatever the request names.
    assert (row["name"], str(row["location_id"]), row["tags"]) == (
        "Πίτσα.jpg", world.location["id"], ["pizza"],
    )  # fmt: skip

    svg = svg_file(tmp_path)
    lying = await browser_client.post(
        "/media/uploads?scope=location",
        headers={
            **headers,
            "Upload-Length": str(len(svg)),
            "Upload-Metadata": meta(filename="a.jpg"),
        },
    )
    refused = await browser_client.patch(
        lying.headers["location"], content=svg, headers={**patch, "Upload-Offset": "0"}
    )
    assert refused.status_code == 415
    assert "data-upload-problem" in refused.text
    assert "This is not a photo or video Chorus takes." in text_of(refused.text)
    assert len(await media_ids(admin_engine, world.agency_id)) == 1


# Head office, the picker, who may do what -------------------------------------------------


async def test_head_office_libraries_picker_and_what_each_role_is_offered(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "brand_manager")
    await sign_in(browser_client, manager)
    assert 'href="/brand/media"' in (await browser_client.get("/")).text
    sent = await upload_form(
        browser_client,
        "/brand/media",
        [("hero.png", png_photo(tmp_path), "image/png"), ("b.jpg", phone_photo(tmp_path), "")],
    )
    assert sent.status_code == 303
    rows = await media_rows(admin_engine, world.agency_id)
    assert {(str(r["brand_id"]), r["location_id"]) for r in rows} == {(world.brand["id"], None)}
    await process_waiting(settings, app_db, admin_engine, world.agency_id)
    picker = await browser_client.get(
        "/brand/media/picker", params={"name": "media_ids", "multiple": "1"}
    )
    assert picker.status_code == 200
    assert picker.text.count('type="checkbox" name="media_ids"') == 2
    assert "<html" not in picker.text  # a fragment for a form

    # The franchisee sees the brand's shared media and may use it, not change it.
    staff = await person(client, admin_engine, world, "location_staff")
    viewer = await person(client, admin_engine, world, "brand_viewer")
    shared_id = rows[0]["id"]
    async with httpx.AsyncClient(
        transport=browser_client._transport, base_url="https://chorus.test"
    ) as other:
        await sign_in(other, staff)
        library = await other.get("/media")
        assert sorted(card_names(library.text)) == ["b.jpg", "hero.png"]
        assert 'action="/media/upload"' not in library.text
        page = await other.get(f"/media/{shared_id}")
        assert page.status_code == 200
        assert "/edit" not in page.text
        assert "/delete" not in page.text
        token = hidden_value(page.text, "csrf_token")
        refused = await other.post(
            f"/media/{shared_id}/edit", data={"csrf_token": token, "name": "mine"}
        )
        assert refused.status_code == 403
        upload = await other.post(
            "/media/upload",
            data={"csrf_token": token},
            files=[("file", ("a.jpg", phone_photo(tmp_path), "image/jpeg"))],
        )
        assert upload.status_code == 403
        picker = await other.get("/media/picker")
        assert picker.text.count('type="radio" name="media_id"') == 2

    async with httpx.AsyncClient(
        transport=browser_client._transport, base_url="https://chorus.test"
    ) as other:
        await sign_in(other, viewer)
        library = await other.get("/brand/media")
        assert len(card_names(library.text)) == 2
        assert "/brand/media/upload" not in library.text
        page = await other.get(f"/brand/media/{shared_id}")
        assert "Delete this media" not in page.text
        assert 'name="focal_x"' not in page.text
        token = hidden_value(page.text, "csrf_token")
        gone = await other.post(f"/brand/media/{shared_id}/delete", data={"csrf_token": token})
        assert gone.status_code == 403
        assert (await other.get("/media")).status_code == 404  # no location of theirs


async def test_another_locations_or_agencys_media_is_the_404_page(
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    elsewhere = await person(
        client, admin_engine, world, "location_manager", location_id=world.other_location["id"]
    )
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, elsewhere)
    await upload_form(browser_client, "/media", [("port.jpg", phone_photo(tmp_path), "")])
    (theirs,) = await media_ids(admin_engine, world.agency_id)
    stranger = await media_world(client, "Other Co")
    stranger_manager = await person(client, admin_engine, stranger, "location_manager")

    async with httpx.AsyncClient(
        transport=browser_client._transport, base_url="https://chorus.test"
    ) as web:
        await sign_in(web, manager)
        assert card_names((await web.get("/media")).text) == []
        for path in (f"/media/{theirs}", f"/brand/media/{theirs}", "/media/not-an-id"):
            assert (await web.get(path)).status_code == 404, path
    async with httpx.AsyncClient(
        transport=browser_client._transport, base_url="https://chorus.test"
    ) as web:
        await sign_in(web, stranger_manager)
        page = await web.get(f"/media/{theirs}")
        assert page.status_code == 404
        assert "port.jpg" not in page.text


# Statements per page --------------------------------------------------------------------------


async def test_pages_run_the_same_statements_whatever_the_number_of_media(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser_client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    app_db: Database,
    tmp_path: Path,
) -> None:
    world = await media_world(client)
    manager = await person(client, admin_engine, world, "location_manager")
    await sign_in(browser_client, manager)
    photo = png_photo(tmp_path)

    async def add(n: int) -> None:
        await upload_form(
            browser_client,
            "/media",
            [(f"p{i}.png", photo, "image/png") for i in range(n)],
            tags="menu",
        )
        await process_waiting(settings, app_db, admin_engine, world.agency_id)

    async def count(path: str) -> int:
        with StatementCounter(app.state.db.engine) as counter:
            shown = await browser_client.get(path)
        assert shown.status_code == 200, shown.text
        return counter.count

    await add(2)
    (first, *_) = await media_ids(admin_engine, world.agency_id)
    few = [await count(p) for p in ("/media", "/media?tag=menu", "/media/picker")]
    few_page = await count(f"/media/{first}")
    await add(30)
    many = [await count(p) for p in ("/media", "/media?tag=menu", "/media/picker")]
    assert many == few
    assert await count(f"/media/{first}") == few_page
    assert len(card_names((await browser_client.get("/media")).text)) == 32
