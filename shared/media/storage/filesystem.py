"""Objects as files under one folder: the embedded default, no service to run.

``<root>/objects/<key>`` holds each object; every write goes to ``<root>/tmp`` first (same
filesystem), is flushed to disk and renamed into place, so a reader never sees half a file.
A multipart upload is a folder ``<root>/uploads/<upload id>`` holding its key and its parts as
files, joined into the object when completed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from shared.media.storage.base import (
    CHUNK_SIZE,
    ObjectInfo,
    PartInfo,
    Storage,
    check_part_number,
    check_parts,
    check_range,
    read_file,
    write_chunks,
)
from shared.media.storage.errors import InvalidKey, InvalidParts, ObjectNotFound, UploadNotFound
from shared.media.storage.keys import validate_key

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_PART_FILE = re.compile(r"^(\d{5})-([0-9a-f]{32})\.part$")


class FilesystemStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"
        self._uploads = self.root / "uploads"
        self._ready = False

    def _prepare(self) -> None:
        """Make the folders at the first write (starting the API creates nothing)."""
        if not self._ready:
            for folder in (self._objects, self._tmp, self._uploads):
                folder.mkdir(parents=True, exist_ok=True)
            self._ready = True

    def path_of(self, key: str) -> Path:
        """Where ``key`` lives; never outside the objects folder, whatever the key."""
        path = (self._objects / validate_key(key)).resolve()
        if not path.is_relative_to(self._objects):
            raise InvalidKey(f"an object key must stay inside the store: {key!r}")
        return path

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        target = self.path_of(key)
        temporary = self._temporary()
        try:
            size, _ = await _write(temporary, chunks)
            await asyncio.to_thread(_move_into_place, temporary, target)
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        return size

    async def get(
        self, key: str, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        first, last = check_range(start, end)
        path = self.path_of(key)
        if not await asyncio.to_thread(path.is_file):
            raise ObjectNotFound(key)
        try:
            async for chunk in read_file(path, first, last, CHUNK_SIZE):
                yield chunk
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.path_of(key)
        try:
            stat = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not S_ISREG(stat.st_mode):
            return None
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            # Every write is a new file: a new inode, whatever the clock's resolution.
            etag=f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}",
            modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        if await asyncio.to_thread(path.is_file):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def copy(self, source: str, target: str) -> None:
        source_path, target_path = self.path_of(source), self.path_of(target)
        if source_path == target_path:
            if not await asyncio.to_thread(source_path.is_file):
                raise ObjectNotFound(source)
            return
        temporary = self._temporary()
        try:
            await asyncio.to_thread(_copy_file, source_path, temporary)
            await asyncio.to_thread(_move_into_place, temporary, target_path)
        except FileNotFoundError:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise ObjectNotFound(source) from None
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise

    async def create_multipart(self, key: str) -> str:
        validate_key(key)
        self._prepare()
        upload_id = uuid.uuid4().hex
        folder = self._uploads / upload_id
        await asyncio.to_thread(folder.mkdir)
        await asyncio.to_thread((folder / "key").write_text, key, "utf-8")
        return upload_id

    async def put_part(
        self, key: str, upload_id: str, number: int, chunks: AsyncIterable[bytes]
    ) -> PartInfo:
        check_part_number(number)
        folder = await self._upload(key, upload_id)
        temporary = self._temporary()
        try:
            size, etag = await _write(temporary, chunks)
            await asyncio.to_thread(_replace_part, folder, number, etag, temporary)
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        return PartInfo(number=number, etag=etag, size=size)

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> int:
        check_parts(parts)
        folder = await self._upload(key, upload_id)
        stored = await asyncio.to_thread(_stored_parts, folder)
        files: list[Path] = []
        for part in parts:
            found = stored.get(part.number)
            if found is None or found[0] != part.etag:
                raise InvalidParts(
                    f"part {part.number} with etag {part.etag!r} is not stored for this upload"
                )
            files.append(found[1])
        # The sizes on disk, not the caller's, decide the 5 MiB rule (as S3 does).
        sizes = await asyncio.to_thread(lambda: [file.stat().st_size for file in files])
        check_parts(
            [PartInfo(p.number, p.etag, size) for p, size in zip(parts, sizes, strict=True)]
        )
        target = self.path_of(key)
        temporary = self._temporary()
        try:
            await asyncio.to_thread(_join, files, temporary)
            await asyncio.to_thread(_move_into_place, temporary, target)
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        await asyncio.to_thread(shutil.rmtree, folder, True)
        return sum(sizes)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            folder = await self._upload(key, upload_id)
        except UploadNotFound:
            return
        await asyncio.to_thread(shutil.rmtree, folder, True)

    async def download_to(self, key: str, path: Path) -> int:
        source = self.path_of(key)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        try:
            await asyncio.to_thread(shutil.copyfile, source, temporary)
            await asyncio.to_thread(os.replace, temporary, path)
        except FileNotFoundError:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise ObjectNotFound(key) from None
        return (await asyncio.to_thread(path.stat)).st_size

    def _temporary(self) -> Path:
        self._prepare()
        return self._tmp / uuid.uuid4().hex

    async def _upload(self, key: str, upload_id: str) -> Path:
        validate_key(key)
        if not _UPLOAD_ID.match(upload_id):
            raise UploadNotFound(key, upload_id)
        folder = self._uploads / upload_id
        try:
            recorded = await asyncio.to_thread((folder / "key").read_text, "utf-8")
        except FileNotFoundError:
            raise UploadNotFound(key, upload_id) from None
        if recorded != key:
            raise UploadNotFound(key, upload_id)
        return folder


async def _write(path: Path, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
    """Write the chunks to a new file at ``path``, flushed to disk; its size and MD5."""
    handle = await asyncio.to_thread(path.open, "wb")
    with handle:
        written = await write_chunks(handle, chunks)
        await asyncio.to_thread(_flush, handle)
    return written


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _move_into_place(temporary: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, target)
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry), where the OS allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _copy_file(source: Path, target: Path) -> None:
    with source.open("rb") as reader, target.open("wb") as writer:
        shutil.copyfileobj(reader, writer, CHUNK_SIZE)
        _flush(writer)


def _join(files: Sequence[Path], target: Path) -> None:
    with target.open("wb") as writer:
        for file in files:
            with file.open("rb") as reader:
                shutil.copyfileobj(reader, writer, CHUNK_SIZE)
        _flush(writer)


def _stored_parts(folder: Path) -> dict[int, tuple[str, Path]]:
    parts: dict[int, tuple[str, Path]] = {}
    for entry in folder.iterdir():
        match = _PART_FILE.match(entry.name)
        if match:
            parts[int(match.group(1))] = (match.group(2), entry)
    return parts


def _replace_part(folder: Path, number: int, etag: str, temporary: Path) -> None:
    """The part sent last is the part: earlier copies of the same number go."""
    for earlier in folder.glob(f"{number:05d}-*.part"):
        earlier.unlink(missing_ok=True)
    os.replace(temporary, folder / f"{number:05d}-{etag}.part")
