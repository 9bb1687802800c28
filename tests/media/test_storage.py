"""Media storage: both back-ends (filesystem, and S3 against a real moto server process) pass
one suite: what goes in comes out, by range too; multipart uploads keep S3's rules; keys cannot
escape; memory stays flat for a large object."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC
from pathlib import Path

import psutil
import pytest

from shared.media.ranges import parse_range
from shared.media.storage import (
    MIN_PART_SIZE,
    InvalidKey,
    InvalidParts,
    ObjectNotFound,
    PartInfo,
    PartTooSmall,
    Storage,
    UploadNotFound,
    agency_of_key,
    object_key,
)
from shared.media.storage.filesystem import FilesystemStorage
from tests.support.s3_server import S3Server, create_bucket, s3_storage

MIB = 1024 * 1024


def new_key(variant: str = "original") -> str:
    return object_key(uuid.uuid4(), hashlib.sha256(os.urandom(16)).hexdigest(), variant)


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read(
    storage: Storage, key: str, start: int | None = None, end: int | None = None
) -> bytes:
    return b"".join([chunk async for chunk in storage.get(key, start, end)])


async def test_round_trip(storage: Storage) -> None:
    data = os.urandom(300_000)
    key = new_key()

    assert await storage.put(key, chunks_of(data, 7_000)) == len(data)

    assert await read(storage, key) == data
    info = await storage.head(key)
    assert info is not None
    assert info.size == len(data)
    assert info.etag
    assert info.modified_at.tzinfo is UTC


async def test_a_put_replaces_the_object_and_its_etag(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, chunks_of(b"first version"))
    first = await storage.head(key)

    await storage.put(key, chunks_of(b"the second version"))

    second = await storage.head(key)
    assert await read(storage, key) == b"the second version"
    assert first is not None
    assert second is not None
    assert second.etag != first.etag


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", slice(0, 100)),
        ("bytes=1000-1999", slice(1000, 2000)),
        ("bytes=-500", slice(9_500, 10_000)),
        ("bytes=9990-20000", slice(9_990, 10_000)),
        ("bytes=2500-", slice(2_500, 10_000)),
    ],
)
async def test_ranges(storage: Storage, header: str, expected: slice) -> None:
    data = os.urandom(10_000)
    key = new_key()
    await storage.put(key, chunks_of(data))

    wanted = parse_range(header, len(data))

    assert wanted is not None
    assert await read(storage, key, wanted.start, wanted.end) == data[expected]


async def test_a_range_past_the_end_reads_nothing(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, chunks_of(b"0123456789"))

    assert await read(storage, key, 10) == b""
    assert await read(storage, key, 50, 60) == b""
    assert await read(storage, key, 4, 4) == b""
    assert await read(storage, key, 8, 1000) == b"89"


async def test_empty_object(storage: Storage) -> None:
    key = new_key()

    assert await storage.put(key, stream([])) == 0

    info = await storage.head(key)
    assert info is not None
    assert info.size == 0
    assert await read(storage, key) == b""
    assert await read(storage, key, 0, 10) == b""


async def test_head_of_a_missing_object_is_none_and_get_raises(storage: Storage) -> None:
    key = new_key()

    assert await storage.head(key) is None
    with pytest.raises(ObjectNotFound):
        await read(storage, key)
    with pytest.raises(ObjectNotFound):
        await read(storage, key, 3, 3)


async def test_delete(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, chunks_of(b"to be deleted"))

    await storage.delete(key)
    await storage.delete(key)  # a second time: nothing there, no error

    assert await storage.head(key) is None
    with pytest.raises(ObjectNotFound):
        await read(storage, key)


async def test_copy(storage: Storage) -> None:
    data = os.urandom(50_000)
    source, target = new_key(), new_key("instagram_feed")
    await storage.put(source, chunks_of(data))

    await storage.copy(source, target)
    await storage.copy(source, source)

    assert await read(storage, target) == data
    assert await read(storage, source) == data
    with pytest.raises(ObjectNotFound):
        await storage.copy(new_key(), new_key())


async def test_a_failed_put_leaves_the_previous_object(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, chunks_of(b"the good version"))

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(12):  # past one S3 part: the multipart upload is aborted
            yield os.urandom(MIB)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put(key, broken())

    assert await read(storage, key) == b"the good version"


async def test_download_to_and_upload_from(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 17)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    key = new_key()

    assert await storage.upload_from(source, key) == len(data)
    target = tmp_path / "download.bin"
    assert await storage.download_to(key, target) == len(data)

    assert target.read_bytes() == data
    assert [name for name in os.listdir(tmp_path) if name.endswith(".part")] == []
    with pytest.raises(ObjectNotFound):
        await storage.download_to(new_key(), tmp_path / "missing.bin")
    assert not (tmp_path / "missing.bin").exists()


async def test_multipart_upload(storage: Storage) -> None:
    first, second, last = os.urandom(MIN_PART_SIZE), os.urandom(MIN_PART_SIZE + 3), b"tail"
    key = new_key()
    upload_id = await storage.create_multipart(key)

    parts = [
        await storage.put_part(key, upload_id, 1, chunks_of(first, MIB)),
        await storage.put_part(key, upload_id, 2, chunks_of(second, MIB)),
        await storage.put_part(key, upload_id, 3, chunks_of(last)),
    ]
    assert await storage.head(key) is None  # nothing visible before completion
    size = await storage.complete_multipart(key, upload_id, parts)

    assert size == len(first) + len(second) + len(last)
    assert [p.size for p in parts] == [len(first), len(second), len(last)]
    assert await read(storage, key) == first + second + last
    with pytest.raises(UploadNotFound):  # a completed upload takes no more parts
        await storage.put_part(key, upload_id, 4, chunks_of(b"late"))


async def test_a_part_sent_again_replaces_the_earlier_one(storage: Storage) -> None:
    key = new_key()
    upload_id = await storage.create_multipart(key)
    await storage.put_part(key, upload_id, 1, chunks_of(b"x" * MIN_PART_SIZE, MIB))
    again = await storage.put_part(key, upload_id, 1, chunks_of(b"y" * MIN_PART_SIZE, MIB))
    last = await storage.put_part(key, upload_id, 2, chunks_of(b"end"))

    await storage.complete_multipart(key, upload_id, [again, last])

    assert await read(storage, key) == b"y" * MIN_PART_SIZE + b"end"


async def test_parts_under_five_mib_are_refused_but_the_last(storage: Storage) -> None:
    key = new_key()
    upload_id = await storage.create_multipart(key)
    small = await storage.put_part(key, upload_id, 1, chunks_of(b"a" * 1000))
    last = await storage.put_part(key, upload_id, 2, chunks_of(b"b" * 1000))

    with pytest.raises(PartTooSmall):
        await storage.complete_multipart(key, upload_id, [small, last])
    # The stored bytes decide, not the sizes the caller claims.
    claimed = PartInfo(small.number, small.etag, MIN_PART_SIZE)
    with pytest.raises(PartTooSmall):
        await storage.complete_multipart(key, upload_id, [claimed, last])

    assert await storage.head(key) is None
    # One small part alone is the last part: allowed.
    assert await storage.complete_multipart(key, upload_id, [small]) == 1000
    assert await read(storage, key) == b"a" * 1000


async def test_parts_must_be_the_stored_ones_in_order(storage: Storage) -> None:
    key = new_key()
    upload_id = await storage.create_multipart(key)
    one = await storage.put_part(key, upload_id, 1, chunks_of(b"1" * MIN_PART_SIZE, MIB))
    two = await storage.put_part(key, upload_id, 2, chunks_of(b"2" * 10))

    with pytest.raises(InvalidParts):
        await storage.complete_multipart(key, upload_id, [two, one])
    with pytest.raises(InvalidParts):
        await storage.complete_multipart(key, upload_id, [])
    with pytest.raises(InvalidParts):
        await storage.complete_multipart(key, upload_id, [one, PartInfo(2, "0" * 32, 10)])
    with pytest.raises(InvalidParts):
        await storage.put_part(key, upload_id, 0, chunks_of(b"x"))
    with pytest.raises(InvalidParts):
        await storage.put_part(key, upload_id, 10_001, chunks_of(b"x"))


async def test_abort(storage: Storage) -> None:
    key = new_key()
    upload_id = await storage.create_multipart(key)
    part = await storage.put_part(key, upload_id, 1, chunks_of(b"abandoned"))

    await storage.abort_multipart(key, upload_id)
    await storage.abort_multipart(key, upload_id)  # again: no error

    with pytest.raises(UploadNotFound):
        await storage.complete_multipart(key, upload_id, [part])
    with pytest.raises(UploadNotFound):
        await storage.put_part(key, upload_id, 2, chunks_of(b"more"))
    assert await storage.head(key) is None


async def test_an_unknown_upload_takes_no_parts(storage: Storage) -> None:
    key = new_key()

    with pytest.raises(UploadNotFound):
        await storage.put_part(key, "not-an-upload", 1, chunks_of(b"x"))
    with pytest.raises(UploadNotFound):
        await storage.complete_multipart(key, "not-an-upload", [PartInfo(1, "0" * 32, 1)])


async def test_a_filesystem_upload_belongs_to_its_key(tmp_path: Path) -> None:
    """(AWS S3 refuses another key's upload id by itself; moto does not check it.)"""
    storage = FilesystemStorage(tmp_path)
    key = new_key()
    upload_id = await storage.create_multipart(key)

    with pytest.raises(UploadNotFound):
        await storage.put_part(new_key(), upload_id, 1, chunks_of(b"elsewhere"))


BAD_KEYS = [
    "",
    "../escape",
    "agencies/../../etc/passwd",
    "/etc/passwd",
    "a\x00b",
    "a\\b",
    "a//b",
    "a/./b",
    "trailing/",
    "line\nbreak",
    "x" * 1025,
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        await storage.put(key, chunks_of(b"x"))
    with pytest.raises(InvalidKey):
        await read(storage, key)
    with pytest.raises(InvalidKey):
        await storage.head(key)
    with pytest.raises(InvalidKey):
        await storage.delete(key)
    with pytest.raises(InvalidKey):
        await storage.copy(new_key(), key)
    with pytest.raises(InvalidKey):
        await storage.create_multipart(key)


@pytest.mark.slow
async def test_large_object_streams_in_flat_memory(storage: Storage) -> None:
    """64 MiB in and out: the process grows by far less than the object (a ceiling, not a
    timing)."""
    size, block = 64 * MIB, os.urandom(MIB)
    key = new_key()
    # Load the client and its operations' models first (once per process, whatever the size).
    await storage.put(new_key(), chunks_of(os.urandom(MIN_PART_SIZE + 1), MIB))
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    written = hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        nonlocal peak
        for counter in range(size // MIB):
            chunk = counter.to_bytes(8, "big") + block[8:]
            written.update(chunk)
            yield chunk
            peak = max(peak, process.memory_info().rss)

    assert await storage.put(key, generated()) == size
    read_back = hashlib.sha256()
    total = 0
    async for chunk in storage.get(key):
        read_back.update(chunk)
        total += len(chunk)
        peak = max(peak, process.memory_info().rss)

    assert total == size
    assert read_back.hexdigest() == written.hexdigest()
    assert (peak - baseline) / MIB < 40, f"grew by {(peak - baseline) / MIB:.1f} MiB"


def test_object_keys_are_per_agency_and_content() -> None:
    agency = uuid.uuid4()
    sha = hashlib.sha256(b"photo").hexdigest()

    key = object_key(agency, sha)

    assert key == f"agencies/{agency}/{sha[:2]}/{sha}/original"
    assert (
        object_key(agency, sha, "instagram_story")
        == f"agencies/{agency}/{sha[:2]}/{sha}/instagram_story"
    )
    assert agency_of_key(key) == agency
    assert agency_of_key(f"elsewhere/{agency}/x") is None
    for bad_sha in ("ABC", sha.upper(), sha[:-1], "../" + sha[3:]):
        with pytest.raises(InvalidKey):
            object_key(agency, bad_sha)
    for bad_variant in ("", "../x", "a/b", "Original", "-x"):
        with pytest.raises(InvalidKey):
            object_key(agency, sha, bad_variant)


async def test_filesystem_keys_never_leave_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    storage = FilesystemStorage(tmp_path / "media")
    (storage.root / "objects").mkdir(parents=True)
    (storage.root / "objects" / "agencies").symlink_to(outside)

    with pytest.raises(InvalidKey):
        await storage.put("agencies/planted", chunks_of(b"x"))

    assert list(outside.iterdir()) == []


async def test_s3_copies_a_large_object_part_by_part(s3_server: S3Server) -> None:
    """Past S3's single CopyObject limit (5 GiB, lowered here) the copy goes part by part."""
    async with s3_storage(s3_server, await create_bucket(s3_server)) as storage:
        storage.max_single_copy = MIB
        storage.copy_part_size = MIN_PART_SIZE
        data = os.urandom(MIN_PART_SIZE + MIB)
        source, target = new_key(), new_key("copy")
        await storage.put(source, chunks_of(data, MIB))

        await storage.copy(source, target)

        assert await read(storage, target) == data
