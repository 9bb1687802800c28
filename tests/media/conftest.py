"""Media storage fixtures: a real S3-compatible server (moto, its own process) for the
session, and ``storage``: every test that takes it runs on both back-ends, the filesystem in
a fresh folder and S3 in a fresh bucket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.media.storage import Storage
from shared.media.storage.filesystem import FilesystemStorage
from tests.support.s3_server import S3Server, create_bucket, s3_storage


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


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
