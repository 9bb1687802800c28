"""The media library's API (issue #17) as an agency's people use it: upload a phone photo into
the brand's library (streamed to storage, type from the bytes), find it by folder, tag, name
and kind, edit it, see where it is used, delete it (refused while a scheduled post uses it,
restorable during the grace period); what each role may do; another agency's media is 404;
lying and oversized files are refused with nothing kept; the plan's storage is a 402."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.deps import get_settings
from shared.config import Settings
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.media import files
from tests.support.access import invite_and_accept
from tests.support.campaigns import publish_template
from tests.support.web_agency import set_billing


def _uploads(settings: Settings, owner: Tenant) -> list[Path]:
    """The agency's files waiting in storage for the worker."""
    root = Path(settings.media_root) / "objects" / "agencies"  # the filesystem back-end's layout
    return sorted(p for p in root.glob(f"{owner.agency_id}/uploads/*") if p.is_file())


def _bearer(who: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {who['access_token']}"}


async def _upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    filename: str = "IMG_0001.JPG",
    **fields: str,
) -> httpx.Response:
    return await client.post(
        "/v1/media",
        files={"file": (filename, content, "application/octet-stream")},
        data=fields,
        headers=headers,
    )


@pytest.fixture
def photo(tmp_path: Path) -> bytes:
    return files.write_phone_jpeg(tmp_path / "phone.jpg", size=(800, 600)).read_bytes()


@pytest.fixture
def limits(app: FastAPI, settings: Settings) -> Iterator[dict[str, Any]]:
    """Settings this test changes (``limits[...] = …``) for the app's routes."""
    changed: dict[str, Any] = {}
    app.dependency_overrides[get_settings] = lambda: settings.model_copy(update=changed)
    yield changed
    app.dependency_overrides.pop(get_settings, None)


async def test_a_photo_goes_into_the_brands_library_and_is_found_by_folder_tag_and_name(
    client: httpx.AsyncClient, settings: Settings, photo: bytes
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    made = await _upload(
        client,
        owner.headers,
        photo,
        name="  Summer terrace ",
        brand_id=brand["id"],
        folder="/Summer//2026/ ",
        tags="Terrace, summer,SUMMER",
    )
    assert made.status_code == 202, made.text
    media = made.json()
    assert media["status"] == "processing"
    assert media["name"] == "Summer terrace"
    assert media["folder"] == "Summer/2026"
    assert media["tags"] == ["terrace", "summer"]
    assert (media["brand_id"], media["location_id"]) == (brand["id"], None)
    assert (media["type"], media["size_bytes"]) == ("jpeg", len(photo))
    assert media["links"]["file"] is None  # nothing is served before it is processed
    # The bytes wait in storage as sent, for the worker.
    [waiting] = _uploads(settings, owner)
    assert hashlib.sha256(waiting.read_bytes()).hexdigest() == hashlib.sha256(photo).hexdigest()

    other = await _upload(client, owner.headers, photo, filename="Lobby.jpg", brand_id=brand["id"])
    assert other.json()["name"] == "Lobby.jpg"  # the file's name when none is given

    async def found(**params: str) -> list[str]:
        listed = await client.get("/v1/media", params=params, headers=owner.headers)
        assert listed.status_code == 200, listed.text
        return [m["name"] for m in listed.json()["items"]]

    assert await found() == ["Lobby.jpg", "Summer terrace"]  # newest first
    assert await found(folder="Summer") == ["Summer terrace"]  # sub-folders included
    assert await found(folder="Summer/2026") == ["Summer terrace"]
    assert await found(folder="Winter") == []
    assert await found(tag="SUMMER") == ["Summer terrace"]
    assert await found(q="TERR") == ["Summer terrace"]
    assert await found(q="%") == []  # a wildcard is a character here
    assert await found(brand_id=brand["id"], sort="name") == ["Lobby.jpg", "Summer terrace"]
    assert await found(agency="true") == []
    assert await found(type="png") == []
    folders = await client.get("/v1/media-folders", headers=owner.headers)
    assert folders.json() == [{"folder": "", "count": 1}, {"folder": "Summer/2026", "count": 1}]
    used = await client.get("/v1/media-storage", headers=owner.headers)
    assert used.json()["used_bytes"] == 2 * len(photo)


async def test_the_type_comes_from_the_bytes_and_a_refused_file_leaves_nothing_behind(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    owner = await sign_up(client)
    for write in (files.write_svg_with_script, files.write_text_named_mp4):
        lying = write(tmp_path / f"x-{write.__name__}")
        refused = await _upload(client, owner.headers, lying.read_bytes(), filename=lying.name)
        assert refused.status_code == 415, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/unsupported_media_type")
        assert "JPEG" in problem["detail"]
        assert "MP4" in problem["detail"]
    renamed = files.write_png_named_jpg(tmp_path / "x")
    taken = await _upload(client, owner.headers, renamed.read_bytes(), filename="photo.jpg")
    assert taken.status_code == 202, taken.text
    assert taken.json()["type"] == "png"  # not what its name says
    empty = await _upload(client, owner.headers, b"", filename="empty.jpg")
    assert empty.status_code == 415, empty.text
    missing = await client.post(
        "/v1/media", files={"other": ("a.jpg", b"x")}, headers=owner.headers
    )
    assert missing.status_code == 400, missing.text
    assert missing.json()["errors"][0]["field"] == "body.file"
    not_multipart = await client.post(
        "/v1/media",
        content=b"\xff\xd8\xff",
        headers={**owner.headers, "Content-Type": "image/jpeg"},
    )
    assert not_multipart.status_code == 400, not_multipart.text
    malformed = await client.post(
        "/v1/media",
        content=b"--b\r\nno headers here\r\n\r\n\xff\xd8\xff--b--",
        headers={**owner.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert malformed.status_code == 400, malformed.text
    assert len(_uploads(settings, owner)) == 1  # only the PNG waits
    listed = await client.get("/v1/media", headers=owner.headers)
    assert [m["type"] for m in listed.json()["items"]] == ["png"]


async def test_a_file_past_the_limit_is_a_413_and_a_full_plan_a_402(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    settings: Settings,
    limits: dict[str, Any],
    photo: bytes,
) -> None:
    owner = await sign_up(client)
    limits["media_max_upload_bytes"] = len(photo) - 1
    too_big = await _upload(client, owner.headers, photo)
    assert too_big.status_code == 413, too_big.text
    assert "POST /v1/media/uploads" in too_big.json()["detail"]  # where larger files go
    limits.clear()

    # Starter's 10 GiB nearly full: the next photo does not fit.
    await set_billing(admin_engine, owner.agency_id, plan="starter")
    await _fill_storage(admin_engine, owner, 10 * 1024**3 - len(photo) + 1)
    full = await _upload(client, owner.headers, photo)
    assert full.status_code == 402, full.text
    problem = full.json()
    assert problem["code"] == "plan_storage_full"
    assert (problem["plan"], problem["limit_bytes"]) == ("starter", 10 * 1024**3)
    assert problem["upgrade_to"] == "pro"
    assert "10.0 GiB" in problem["detail"]
    assert _uploads(settings, owner) == []
    listed = await client.get("/v1/media", headers=owner.headers)
    assert listed.json()["items"] == []


async def _fill_storage(engine: AsyncEngine, owner: Tenant, size: int) -> None:
    sha = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO media_blob (agency_id, sha256, original_key, clean_key, media_type, "
                "kind, size_bytes, facts) VALUES (:a, :s, 'k', 'k', 'mp4', 'video', :n, '{}')"
            ),
            {"a": owner.agency_id, "s": sha, "n": size},
        )


async def test_who_may_do_what_and_another_agencys_media_is_404(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, photo: bytes
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    athens = await create_location(client, owner, brand["id"], city="Athens")
    berlin = await create_location(client, owner, brand["id"], city="Berlin")
    viewer = await invite_and_accept(
        client, admin_engine, owner, f"v-{uuid.uuid4().hex[:6]}@x.example", "brand_viewer",
        brand_id=brand["id"],
    )  # fmt: skip
    athens_manager = await invite_and_accept(
        client, admin_engine, owner, f"a-{uuid.uuid4().hex[:6]}@x.example", "location_manager",
        location_id=athens["id"],
    )  # fmt: skip
    shared = (await _upload(client, owner.headers, photo, brand_id=brand["id"])).json()
    agency_wide = (await _upload(client, owner.headers, photo, name="Agency logo")).json()
    berlin_own = (await _upload(client, owner.headers, photo, location_id=berlin["id"])).json()
    assert berlin_own["brand_id"] == brand["id"]  # a location's media sits in its brand

    # A brand viewer reads the brand's media and changes nothing.
    assert (await _upload(client, _bearer(viewer), photo, brand_id=brand["id"])).status_code == 403
    seen = await client.get("/v1/media", headers=_bearer(viewer))
    assert {m["id"] for m in seen.json()["items"]} == {shared["id"], berlin_own["id"]}
    edit = await client.patch(
        f"/v1/media/{shared['id']}", json={"name": "x"}, headers=_bearer(viewer)
    )
    assert edit.status_code == 403

    # Athens's manager adds Athens's own, reads the brand's shared media, not Berlin's.
    own = await _upload(client, _bearer(athens_manager), photo, location_id=athens["id"])
    assert own.status_code == 202, own.text
    into_brand = await _upload(client, _bearer(athens_manager), photo, brand_id=brand["id"])
    assert into_brand.status_code == 403
    seen = await client.get("/v1/media", headers=_bearer(athens_manager))
    assert {m["id"] for m in seen.json()["items"]} == {shared["id"], own.json()["id"]}
    usable = await client.get(
        "/v1/media", params={"usable_at_location_id": athens["id"]}, headers=owner.headers
    )
    assert {m["id"] for m in usable.json()["items"]} == {
        shared["id"], agency_wide["id"], own.json()["id"],
    }  # fmt: skip
    await client.patch(f"/v1/media/{shared['id']}", json={"folder": "Menu"}, headers=owner.headers)
    folders = await client.get(
        "/v1/media-folders",
        params={"usable_at_location_id": athens["id"]},
        headers=_bearer(athens_manager),
    )
    assert folders.status_code == 200, folders.text
    assert folders.json() == [{"folder": "", "count": 1}, {"folder": "Menu", "count": 1}]
    hidden = await client.get(f"/v1/media/{berlin_own['id']}", headers=_bearer(athens_manager))

    assert hidden.status_code == 404

    # Another agency sees none of it, and cannot file into this agency's brand.
    stranger = await sign_up(client)
    for method, path in (
        ("GET", f"/v1/media/{shared['id']}"),
        ("PATCH", f"/v1/media/{shared['id']}"),
        ("DELETE", f"/v1/media/{shared['id']}"),
        ("GET", f"/v1/media/{shared['id']}/usage"),
        ("POST", f"/v1/media/{shared['id']}/restore"),
    ):
        answer = await client.request(
            method,
            path,
            headers=stranger.headers,
            json={"name": "x"} if method == "PATCH" else None,
        )
        assert answer.status_code == 404, (method, path, answer.text)
    filed = await _upload(client, stranger.headers, photo, brand_id=brand["id"])
    assert filed.status_code == 404, filed.text
    assert (await client.get("/v1/media", headers=stranger.headers)).json()["items"] == []


async def test_edits_are_checked_and_odd_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, photo: bytes
) -> None:
    owner = await sign_up(client)
    media = (await _upload(client, owner.headers, photo, name="Pizza")).json()
    url = f"/v1/media/{media['id']}"
    changed = await client.patch(
        url,
        json={
            "name": "Πίτσα 🍕 مطعم",
            "folder": "Menu/ Winter ",
            "tags": ["Ζεστό", "ζεστό", " menu "],
            "focal_point": {"x": 0.25, "y": 0.8},
            "rights_expire_at": "2030-01-01T00:00:00Z",
        },
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["folder"], body["tags"]) == (
        "Πίτσα 🍕 مطعم", "Menu/Winter", ["ζεστό", "menu"],
    )  # fmt: skip
    assert body["focal_point"] == {"x": 0.25, "y": 0.8}
    assert body["rights_expired"] is False
    for change, field in (
        ({"focal_point": {"x": 1.5, "y": 0}}, "body.focal_point.x"),
        ({"focal_point": {"x": 0.5}}, "body.focal_point.y"),
        ({"name": ""}, "body.name"),
        ({"name": None}, "body.name"),
        ({"name": "a\tb"}, "body.name"),
        ({"name": "x" * 201}, "body.name"),
        ({"tags": ["a,b"]}, "body.tags.0"),
        ({"tags": [str(n) for n in range(21)]}, "body.tags"),
        ({"rights_expire_at": "tomorrow"}, "body.rights_expire_at"),
        ({"size_bytes": 1}, "body.size_bytes"),
        ({"name": "nul \x00 byte"}, "body.name"),
    ):
        refused = await client.patch(url, json=change, headers=owner.headers)
        assert refused.status_code == 422, (change, refused.text)
        assert refused.json()["errors"][0]["field"] == field, (change, refused.text)
    kept = await client.get(url, headers=owner.headers)
    assert kept.json()["name"] == "Πίτσα 🍕 مطعم"
    bad_field = await _upload(client, owner.headers, photo, name="a\x00b")
    assert bad_field.status_code == 422, bad_field.text
    bad_id = await _upload(client, owner.headers, photo, brand_id="not-an-id")
    assert bad_id.status_code == 422, bad_id.text
    assert bad_id.json()["errors"][0]["field"] == "body.brand_id"
    for params in ({"min_size": str(2**63)}, {"kind": "pdf"}, {"limit": "0"}, {"colour": "red"}):
        listed = await client.get("/v1/media", params=params, headers=owner.headers)
        assert listed.status_code in (400, 422), (params, listed.text)


async def test_delete_is_refused_while_a_post_not_ended_uses_it_then_restorable(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, photo: bytes
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    media = (await _upload(client, owner.headers, photo, brand_id=brand["id"])).json()
    post_id = await _post_using(
        client, admin_engine, owner, brand["id"], location["id"], media["id"]
    )

    usage = await client.get(f"/v1/media/{media['id']}/usage", headers=owner.headers)
    assert usage.status_code == 200, usage.text
    assert usage.json()["posts_not_ended"] == 1
    assert [u["id"] for u in usage.json()["uses"]] == [post_id]
    refused = await client.delete(f"/v1/media/{media['id']}", headers=owner.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "media_in_use"
    assert (await client.get("/v1/media", headers=owner.headers)).json()["items"]

    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET status = 'published' WHERE id = :p"), {"p": post_id}
        )
    deleted = await client.delete(f"/v1/media/{media['id']}", headers=owner.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted_at"] is not None
    assert deleted.json()["purge_after"] is not None
    assert (await client.get("/v1/media", headers=owner.headers)).json()["items"] == []
    bin_ = await client.get("/v1/media", params={"deleted": "true"}, headers=owner.headers)
    assert [m["id"] for m in bin_.json()["items"]] == [media["id"]]
    restored = await client.post(f"/v1/media/{media['id']}/restore", headers=owner.headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["deleted_at"] is None
    assert [
        m["id"] for m in (await client.get("/v1/media", headers=owner.headers)).json()["items"]
    ] == [media["id"]]
    audit = await client.get(
        "/v1/audit-events", params={"object_id": media["id"]}, headers=owner.headers
    )
    assert audit.status_code == 200, audit.text
    assert {e["action"] for e in audit.json()["items"]} >= {
        "media.create", "media.delete", "media.restore",
    }  # fmt: skip


async def _post_using(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    owner: Tenant,
    brand_id: str,
    location_id: str,
    media_id: str,
) -> str:
    """A scheduled post of the location naming the media (as a post from the library does)."""
    template_id = await publish_template(client, owner, brand_id, "Fresh pizza")
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
                "a": owner.agency_id,
                "p": post_id,
                "b": brand_id,
                "l": location_id,
                "t": template_id,
                "m": f'[{{"kind": "image", "media_id": "{media_id}"}}]',
            },
        )
    return str(post_id)


async def test_a_file_past_the_apis_request_limit_is_streamed_in_up_to_the_upload_limit(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, photo: bytes
) -> None:
    owner = await sign_up(client)
    big = photo + bytes(app.state.settings.max_request_bytes + 1024)  # a JPEG with a long tail
    taken = await _upload(client, owner.headers, big, filename="big.jpg")
    assert taken.status_code == 202, taken.text
    assert taken.json()["size_bytes"] == len(big)
    [stored] = _uploads(settings, owner)
    assert stored.stat().st_size == len(big)
    # Other bodies keep the request limit.
    other = await client.post(
        "/v1/brands",
        content=b"x" * (len(big)),
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert other.status_code == 413
