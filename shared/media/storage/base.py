"""The storage interface both back-ends implement, and what they share.

Everything streams: an object goes in as an async iterable of chunks and comes out as an async
iterator of chunks of at most :data:`CHUNK_SIZE`, so memory does not grow with the file.
Ranges follow Python's slices: ``start`` inclusive, ``end`` exclusive, both clamped to the
object's size.

Multipart uploads (for resumable uploads) follow S3's rules on every back-end: part numbers
1 to 10,000, each part but the last at least :data:`MIN_PART_SIZE` (5 MiB), checked when the
upload is completed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from shared.media.storage.errors import InvalidParts, PartTooSmall

CHUNK_SIZE = 1024 * 1024
"""The most one chunk read from storage holds."""
MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part, the last part of an upload excepted."""
MAX_PART_NUMBER = 10_000


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    """Opaque and unquoted; changes when the object's bytes do."""
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One stored part of a multipart upload: keep it to complete the upload."""

    number: int
    etag: str
    size: int


class Storage(ABC):
    """An object store: keys (see ``shared.media.storage.keys``) to immutable byte strings.

    Use as ``async with storage:`` or call :meth:`aclose` when done."""

    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the chunks under ``key`` (replacing any object there), all or nothing: a
        reader never sees half an object. The object's size."""

    @abstractmethod
    def get(
        self, key: str, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The object's bytes ``[start, end)`` in chunks; nothing when ``start`` lies at or
        past the end. Raises :class:`ObjectNotFound` on the first iteration."""

    @abstractmethod
    async def head(self, key: str) -> ObjectInfo | None:
        """The object's size and version, or None when there is none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is no error."""

    @abstractmethod
    async def copy(self, source: str, target: str) -> None:
        """Store ``source``'s bytes under ``target`` too (:class:`ObjectNotFound` if none)."""

    @abstractmethod
    async def create_multipart(self, key: str) -> str:
        """Begin a multipart upload to ``key``; its upload id."""

    @abstractmethod
    async def put_part(
        self, key: str, upload_id: str, number: int, chunks: AsyncIterable[bytes]
    ) -> PartInfo:
        """Store part ``number`` (1-10,000; a part sent again replaces the earlier one)."""

    @abstractmethod
    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> int:
        """Join the parts (ascending numbers, as :meth:`put_part` returned them) into the
        object at ``key``; its size. :class:`PartTooSmall` / :class:`InvalidParts` when the
        parts break S3's rules or are not those stored."""

    @abstractmethod
    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; an unknown upload is no error."""

    async def download_to(self, key: str, path: Path) -> int:
        """Write the object to ``path`` (via a temporary file beside it, renamed when
        complete); the bytes written."""
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        handle = await asyncio.to_thread(temporary.open, "wb")
        try:
            written = 0
            with handle:
                async for chunk in self.get(key):
                    await asyncio.to_thread(handle.write, chunk)
                    written += len(chunk)
            await asyncio.to_thread(os.replace, temporary, path)
        except BaseException:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        return written

    async def upload_from(self, path: Path, key: str) -> int:
        """Store the file at ``path`` under ``key``; its size."""
        return await self.put(key, read_file(path))

    async def aclose(self) -> None:  # noqa: B027 (a back-end without connections keeps it)
        """Release connections (nothing to release by default)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


async def read_file(
    path: Path, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
) -> AsyncIterator[bytes]:
    """The file's bytes ``[start, end)`` in chunks, each read in a worker thread."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        if start:
            handle.seek(start)
        left = None if end is None else max(0, end - start)
        while left is None or left > 0:
            size = chunk_size if left is None else min(chunk_size, left)
            chunk = await asyncio.to_thread(handle.read, size)
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
    finally:
        handle.close()


async def write_chunks(handle: BinaryIO, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
    """Write the chunks to ``handle`` in writes of up to :data:`CHUNK_SIZE`, each in a worker
    thread; the bytes written and their MD5 hex digest (S3's etag of a part)."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    pending = bytearray()
    async for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        pending += chunk
        if len(pending) >= CHUNK_SIZE:
            await asyncio.to_thread(handle.write, pending)
            pending = bytearray()
    if pending:
        await asyncio.to_thread(handle.write, pending)
    return size, digest.hexdigest()


def check_range(start: int | None, end: int | None) -> tuple[int, int | None]:
    """``(start, end)`` with a missing start as 0; ``ValueError`` for a negative or
    reversed range."""
    first = start or 0
    if first < 0 or (end is not None and end < first):
        raise ValueError(f"not a byte range: start={start}, end={end}")
    return first, end


def check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise InvalidParts(f"a part number is 1 to {MAX_PART_NUMBER}, not {number}")


def check_parts(parts: Sequence[PartInfo]) -> None:
    """S3's rules for completing an upload, checked the same way on every back-end."""
    if not parts:
        raise InvalidParts("an upload is completed with at least one part")
    numbers = [part.number for part in parts]
    for number in numbers:
        check_part_number(number)
    if any(later <= earlier for earlier, later in zip(numbers, numbers[1:], strict=False)):
        raise InvalidParts(f"parts must be listed in ascending order of number: {numbers}")
    for part in parts[:-1]:
        if part.size < MIN_PART_SIZE:
            raise PartTooSmall(
                f"part {part.number} holds {part.size} bytes; every part but the last must "
                f"hold at least {MIN_PART_SIZE} bytes (5 MiB)"
            )
