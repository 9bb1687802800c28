"""A small tus 1.0 client for the resumable upload tests: the headers a tus client sends, an
app built on either storage back-end with small parts, and a raw socket that sends part of a
body and then hangs up, as a phone losing its signal does."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from shared.config import Settings
from tests.media.conftest import create_bucket
from tests.support.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
PART = 5 * 1024 * 1024
"""The tests' part size: S3's smallest, so a few parts make a file of a few MiB."""


async def media_settings(
    settings: Settings, backend: str, s3_server: S3Server, root: str, **changes: Any
) -> Settings:
    """The test settings with media storage on ``backend`` and 5 MiB parts."""
    if backend == "filesystem":
        media: dict[str, Any] = {"media_storage": "filesystem", "media_root": root}
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
    return settings.model_copy(update={**media, "media_resumable_part_bytes": PART, **changes})


def metadata(**values: str) -> str:
    """``Upload-Metadata``: each value base64-encoded."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def create(
    client: httpx.AsyncClient, auth: dict[str, str], length: int, **values: str
) -> httpx.Response:
    headers = {**auth, **TUS, "Upload-Length": str(length)}
    if values:
        headers["Upload-Metadata"] = metadata(**values)
    return await client.post("/v1/media/uploads", headers=headers)


async def head(client: httpx.AsyncClient, auth: dict[str, str], url: str) -> httpx.Response:
    return await client.head(url, headers={**auth, **TUS})


async def patch(
    client: httpx.AsyncClient, auth: dict[str, str], url: str, offset: int, data: bytes
) -> httpx.Response:
    return await client.patch(
        url,
        content=data,
        headers={**auth, **TUS, "Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM},
    )


class CutConnection:
    """A ``PATCH`` over a raw socket: it declares the whole rest of the file, sends some of
    it, and hangs up when told to."""

    def __init__(self, base_url: str, auth: dict[str, str], url: str, offset: int, left: int):
        self.base = urlsplit(base_url)
        self.request = (
            f"PATCH {url} HTTP/1.1\r\nHost: {self.base.netloc}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in {**auth, **TUS}.items())
            + f"Upload-Offset: {offset}\r\nContent-Type: {OFFSET_STREAM}\r\n"
            f"Content-Length: {left}\r\n\r\n"
        ).encode()
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, data: bytes) -> None:
        if self.writer is None:
            _reader, self.writer = await asyncio.open_connection(self.base.hostname, self.base.port)
            self.writer.write(self.request)
        self.writer.write(data)
        await self.writer.drain()

    async def hang_up(self) -> None:
        assert self.writer is not None
        self.writer.close()
        await self.writer.wait_closed()
