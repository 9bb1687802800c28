"""Signed media links through the real app, on both storage back-ends: a platform fetching a
file with no credentials gets it (whole, by range, HEAD); an altered, expired or other
agency's link is a 403 problem; a range past the end a 416."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr

from services.api.app import create_app
from shared import clock
from shared.config import Settings
from shared.crypto.keys import KeyRing
from shared.media.signing import MediaLinkExpired, MediaLinkInvalid, MediaUrlSigner, media_url
from shared.media.storage import InvalidKey, Storage, object_key
from tests.support.clock import TestClock
from tests.support.s3_server import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    S3Server,
    create_bucket,
)

DATA = os.urandom(10_000)


@pytest.fixture(scope="module", params=["filesystem", "s3"])
async def media_app(
    request: pytest.FixtureRequest,
    settings: Settings,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    """The app as ``create_app`` builds it, its media storage set by the settings."""
    if request.param == "filesystem":
        media: dict[str, object] = {
            "media_storage": "filesystem",
            "media_root": str(tmp_path_factory.mktemp("media")),
        }
    else:
        media = {
            "media_storage": "s3",
            "media_s3_bucket": await create_bucket(s3_server),
            "media_s3_endpoint_url": s3_server.url,
            "media_s3_region": REGION,
            "media_s3_addressing_style": "path",
            "media_s3_access_key_id": ACCESS_KEY_ID,
            "media_s3_secret_access_key": SecretStr(SECRET_ACCESS_KEY),
        }
    application = create_app(settings.model_copy(update=media))
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def platform(media_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials at all, as a platform's fetcher."""
    transport = httpx.ASGITransport(app=media_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as c:
        yield c


def storage_of(app: FastAPI) -> Storage:
    storage: Storage = app.state.media_storage
    return storage


def signer_of(app: FastAPI) -> MediaUrlSigner:
    signer: MediaUrlSigner = app.state.media_signer
    return signer


async def stored(app: FastAPI, agency_id: uuid.UUID, data: bytes = DATA) -> str:
    key = object_key(agency_id, hashlib.sha256(data).hexdigest())

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await storage_of(app).put(key, chunks())
    return key


def link(app: FastAPI, agency_id: uuid.UUID, key: str, minutes: int = 15) -> str:
    return signer_of(app).sign(
        agency_id,
        key,
        content_type="video/mp4",
        expires_at=clock.now() + timedelta(minutes=minutes),
    )


def altered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return f"{parts.path}?{urlencode({**query, **changes})}"


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_the_whole_file(media_app: FastAPI, platform: httpx.AsyncClient) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.get(url)

    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == "inline"
    cache = response.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    assert 890 <= int(cache.rsplit("=", 1)[1]) <= 900


async def test_a_parameter_a_fetcher_appends_is_ignored(
    media_app: FastAPI, platform: httpx.AsyncClient
) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.get(url + "&utm_source=crawler&_nc=1")

    assert response.status_code == 200
    assert response.content == DATA


async def test_head(media_app: FastAPI, platform: httpx.AsyncClient) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.head(url)

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(
    ("header", "expected", "content_range"),
    [
        ("bytes=0-99", slice(0, 100), "bytes 0-99/10000"),
        ("bytes=5000-5999", slice(5000, 6000), "bytes 5000-5999/10000"),
        ("bytes=-500", slice(9500, 10000), "bytes 9500-9999/10000"),
        ("bytes=9000-", slice(9000, 10000), "bytes 9000-9999/10000"),
        ("bytes=9990-99999", slice(9990, 10000), "bytes 9990-9999/10000"),
    ],
)
async def test_a_range(
    media_app: FastAPI,
    platform: httpx.AsyncClient,
    header: str,
    expected: slice,
    content_range: str,
) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.get(url, headers={"Range": header})

    assert response.status_code == 206
    assert response.content == DATA[expected]
    assert response.headers["content-range"] == content_range
    assert response.headers["content-length"] == str(len(DATA[expected]))


async def test_a_range_past_the_end_is_416(media_app: FastAPI, platform: httpx.AsyncClient) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.get(url, headers={"Range": "bytes=10000-"})

    assert_problem(response, 416, "range_not_satisfiable")
    assert response.headers["content-range"] == "bytes */10000"


async def test_a_range_for_an_older_version_gets_the_whole_file(
    media_app: FastAPI, platform: httpx.AsyncClient
) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})

    assert response.status_code == 200
    assert response.content == DATA


async def test_an_empty_file(media_app: FastAPI, platform: httpx.AsyncClient) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency, b""))

    whole = await platform.get(url)
    ranged = await platform.get(url, headers={"Range": "bytes=0-"})

    assert whole.status_code == 200
    assert whole.content == b""
    assert_problem(ranged, 416, "range_not_satisfiable")


async def test_a_missing_object_is_404(media_app: FastAPI, platform: httpx.AsyncClient) -> None:
    agency = uuid.uuid4()
    key = object_key(agency, hashlib.sha256(b"never stored").hexdigest())

    response = await platform.get(link(media_app, agency, key))

    assert_problem(response, 404, "media_object_not_found")


@pytest.mark.parametrize(
    "change",
    [
        {"exp": "9999999999"},
        {"type": "image/jpeg"},
        {"type": "text/html"},
        {"sig": "dev." + "A" * 43},
        {"sig": "other." + "A" * 43},
        {"sig": ""},
    ],
    ids=["later-expiry", "other-type", "html", "forged-signature", "unknown-key", "no-signature"],
)
async def test_an_altered_link_is_403(
    media_app: FastAPI, platform: httpx.AsyncClient, change: dict[str, str]
) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.get(altered(url, **change))

    assert_problem(response, 403, "media_link_invalid")


async def test_a_link_without_its_query_is_403(
    media_app: FastAPI, platform: httpx.AsyncClient
) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency))

    response = await platform.get(urlsplit(url).path)

    assert_problem(response, 403, "media_link_invalid")


async def test_another_agencys_object_is_403(
    media_app: FastAPI, platform: httpx.AsyncClient
) -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    our_url = link(media_app, ours, await stored(media_app, ours))
    their_key = await stored(media_app, theirs, os.urandom(100))
    # Our valid signature and query, their object's path (agency and hash swapped in).
    parts = urlsplit(our_url)

    response = await platform.get(f"/v1/media/files/{their_key}?{parts.query}")

    assert_problem(response, 403, "media_link_invalid")
    with pytest.raises(InvalidKey):  # and no link for our agency names their object
        link(media_app, ours, their_key)


async def test_an_expired_link_is_403(
    media_app: FastAPI, platform: httpx.AsyncClient, clock: TestClock
) -> None:
    agency = uuid.uuid4()
    url = link(media_app, agency, await stored(media_app, agency), minutes=15)
    assert (await platform.get(url)).status_code == 200

    clock.advance(15 * 60 + 1)
    response = await platform.get(url)

    assert_problem(response, 403, "media_link_expired")


async def test_the_absolute_link(media_app: FastAPI, platform: httpx.AsyncClient) -> None:
    agency = uuid.uuid4()
    key = await stored(media_app, agency)
    settings: Settings = media_app.state.settings
    cdn = settings.model_copy(update={"media_public_base_url": "https://media.chorus.example/"})

    url = media_url(cdn, agency, key, content_type="image/jpeg", ttl_seconds=60)

    assert url.startswith(f"https://media.chorus.example/v1/media/files/{key}?")
    response = await platform.get(url.removeprefix("https://media.chorus.example"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert 50 <= int(response.headers["cache-control"].rsplit("=", 1)[1]) <= 60


def test_signing_refuses_markup_and_foreign_keys() -> None:
    signer = MediaUrlSigner(KeyRing.of(("k1", b"\x01" * 32)))
    agency = uuid.uuid4()
    key = object_key(agency, hashlib.sha256(b"x").hexdigest())
    later = clock.now() + timedelta(minutes=5)

    for markup in ("text/html", "image/svg+xml", "application/javascript"):
        with pytest.raises(ValueError, match="not a media type"):
            signer.sign(agency, key, content_type=markup, expires_at=later)
    with pytest.raises(InvalidKey):
        signer.sign(uuid.uuid4(), key, content_type="image/png", expires_at=later)


def test_a_rotated_ring_still_opens_links_of_its_older_key() -> None:
    old = MediaUrlSigner(KeyRing.of(("k1", b"\x01" * 32)))
    rotated = MediaUrlSigner(KeyRing.of(("k2", b"\x02" * 32), ("k1", b"\x01" * 32)))
    stranger = MediaUrlSigner(KeyRing.of(("k1", b"\x03" * 32)))
    agency = uuid.uuid4()
    key = object_key(agency, hashlib.sha256(b"x").hexdigest())
    url = old.sign(agency, key, content_type="image/png", expires_at=clock.now() + timedelta(1))
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}

    def verify(signer: MediaUrlSigner) -> object:
        return signer.verify(
            key, content_type=query["type"], expires=query["exp"], signature=query["sig"]
        )

    assert verify(rotated) is not None
    with pytest.raises(MediaLinkInvalid):
        verify(stranger)
    with pytest.raises(MediaLinkExpired):
        old.verify(
            key,
            content_type=query["type"],
            expires=query["exp"],
            signature=query["sig"],
            now=clock.now() + timedelta(days=2),
        )


def test_the_default_root_is_in_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.media.storage.factory import CHECKOUT, default_media_root

    monkeypatch.delenv("CHORUS_DATA_DIR", raising=False)
    assert default_media_root() == CHECKOUT / ".data" / "media"
    monkeypatch.setenv("CHORUS_DATA_DIR", "/srv/chorus-data")
    assert default_media_root() == Path("/srv/chorus-data/media")
