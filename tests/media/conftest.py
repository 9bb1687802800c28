"""Media storage fixtures: a real S3-compatible server (moto, its own process) for the
session, and ``storage``: every test that takes it runs on both back-ends, the filesystem in
a fresh folder and S3 in a fresh bucket."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiobotocore.session import get_session

from shared.media.storage import Storage
from shared.media.storage.filesystem import FilesystemStorage
from shared.media.storage.s3 import S3Storage
from tests.support.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


async def create_bucket(server: S3Server) -> str:
    """A new, empty bucket on the test server; its name."""
    name = f"chorus-media-{uuid.uuid4().hex[:12]}"
    async with get_session().create_client(
        "s3",
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as s3:
        await s3.create_bucket(Bucket=name)
    return name


def s3_storage(server: S3Server, bucket: str) -> S3Storage:
    return S3Storage(
        bucket=bucket,
        endpoint_url=server.url,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        addressing_style="path",
    )


@pytest.fixture(params=["filesystem", "s3"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server
) -> AsyncIterator[Storage]:
    backend: Storage
    if request.param == "filesystem":
        backend = FilesystemStorage(tmp_path / "media")
    else:
        backend = s3_storage(s3_server, await create_bucket(s3_server))
    async with backend:
        yield backend
