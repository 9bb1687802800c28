"""Library media in posts (issue #17), shared by the media-in-posts and campaign journey
tests: the API on a real port (platforms fetch signed links from it), media uploaded and
processed as the worker does, settings that sign links to that port, and what the sandbox
received."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.api.app import create_app
from shared.config import Settings
from shared.db import Database
from shared.media import processing
from shared.media.storage import storage_from_settings
from tests.factories import Tenant
from tests.support.web import WebServer


@pytest.fixture(scope="module")
def api_server(settings: Settings) -> Iterator[WebServer]:
    """The Chorus app under uvicorn: the signed media links the sandbox fetches land here."""
    running = WebServer(create_app(settings)).start()
    yield running
    running.stop()


def publishing_settings(settings: Settings, server: WebServer, **more: Any) -> Settings:
    """The worker's settings: links signed to the running app, which X's guarded download
    may reach (a public host in production)."""
    return settings.model_copy(
        update={
            "media_public_base_url": server.url,
            "outbound_allow_hosts": f"127.0.0.1:{server.port}",
            "reconcile_delay_seconds": 0.0,
            **more,
        }
    )


async def upload(
    client: httpx.AsyncClient,
    owner: Tenant,
    path: Path,
    **fields: str,
) -> dict[str, Any]:
    content = await asyncio.to_thread(path.read_bytes)
    made = await client.post(
        "/v1/media",
        files={"file": (path.name, content, "application/octet-stream")},
        data=fields,
        headers=owner.headers,
    )
    assert made.status_code == 202, made.text
    return dict(made.json())


async def process(
    settings: Settings, app_db: Database, agency_id: uuid.UUID, media_id: str
) -> None:
    """What the worker's ``media.process`` job does with the upload."""
    async with storage_from_settings(settings) as storage:
        outcome = await processing.process_upload(app_db, storage, agency_id, uuid.UUID(media_id))
    assert outcome.status == "ready", outcome


async def ready_media(
    client: httpx.AsyncClient,
    settings: Settings,
    app_db: Database,
    owner: Tenant,
    path: Path,
    **fields: str,
) -> dict[str, Any]:
    """A file uploaded into the library and processed: the media as the API shows it."""
    made = await upload(client, owner, path, **fields)
    await process(settings, app_db, owner.agency_id, made["id"])
    shown = await client.get(f"/v1/media/{made['id']}", headers=owner.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "ready"
    return dict(shown.json())


async def received(sandbox: httpx.AsyncClient, platform: str) -> list[dict[str, Any]]:
    answer = await sandbox.get(f"/_sandbox/media/{platform}")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def received_bytes(sandbox: httpx.AsyncClient, platform: str, index: int) -> bytes:
    answer = await sandbox.get(f"/_sandbox/media/{platform}/{index}/bytes")
    assert answer.status_code == 200, answer.text
    return answer.content
