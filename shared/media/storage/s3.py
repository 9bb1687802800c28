"""Objects in an S3-compatible bucket (AWS S3, MinIO, R2, GCS interop), through aiobotocore.

An object of up to one part (:attr:`S3Storage.part_size`) is one ``PutObject``; a longer
stream becomes a multipart upload of parts that size, so memory holds at most about one part
whatever the object's size. A part given to :meth:`S3Storage.put_part` (a resumable upload's
piece, of a size no one knows in advance) is spooled to a temporary file first, since S3
wants each part's length up front.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import AsyncExitStack
from datetime import UTC
from functools import cache
from typing import IO, TYPE_CHECKING, Literal

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import ClientError

from shared.media.storage.base import (
    CHUNK_SIZE,
    MIN_PART_SIZE,
    ObjectInfo,
    PartInfo,
    Storage,
    check_part_number,
    check_parts,
    check_range,
    write_chunks,
)
from shared.media.storage.errors import (
    InvalidParts,
    ObjectNotFound,
    PartTooSmall,
    UploadNotFound,
)
from shared.media.storage.keys import validate_key

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
MAX_SINGLE_COPY = 5 * 1024**3
"""``CopyObject`` copies up to 5 GiB; a larger object is copied part by part."""


class S3Storage(Storage):
    part_size = MIN_PART_SIZE
    """Parts of :meth:`put`: S3's smallest, as memory holds about two parts at once (a 64 MiB
    put grew the process by 9 MiB with 5 MiB parts, 24 MiB with 8 MiB parts); 10,000 parts
    still hold 48 GiB."""
    max_single_copy = MAX_SINGLE_COPY
    copy_part_size = 512 * 1024 * 1024

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: Literal["auto", "path", "virtual"] = "auto",
        max_connections: int = 50,
    ) -> None:
        self.bucket = bucket
        self._endpoint_url = endpoint_url or None
        self._region = region
        self._access_key_id = access_key_id or None
        self._secret_access_key = secret_access_key or None
        # Checksums only where S3 requires them: several S3-compatible servers refuse the
        # newer default (CRC32 trailers on every upload).
        self._config = AioConfig(
            s3={"addressing_style": addressing_style},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=max_connections,
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._opening = asyncio.Lock()

    async def _s3(self) -> S3Client:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    self._client = await self._stack.enter_async_context(
                        _session().create_client(
                            "s3",
                            region_name=self._region,
                            endpoint_url=self._endpoint_url,
                            aws_access_key_id=self._access_key_id,
                            aws_secret_access_key=self._secret_access_key,
                            config=self._config,
                        )
                    )
        return self._client

    async def aclose(self) -> None:
        self._client = None
        await self._stack.aclose()

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        validate_key(key)
        s3 = await self._s3()
        buffer = bytearray()
        total = 0
        upload_id: str | None = None
        parts: list[PartInfo] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                total += len(chunk)
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        upload_id = await self.create_multipart(key)
                    body = bytes(memoryview(buffer)[: self.part_size])
                    del buffer[: self.part_size]
                    parts.append(await self._upload_part(s3, key, upload_id, len(parts) + 1, body))
            if upload_id is None:
                await s3.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
                return total
            if buffer:
                body = bytes(buffer)
                buffer.clear()
                parts.append(await self._upload_part(s3, key, upload_id, len(parts) + 1, body))
            await self.complete_multipart(key, upload_id, parts)
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(self.abort_multipart(key, upload_id))
            raise
        return total

    async def get(
        self, key: str, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        first, last = check_range(start, end)
        validate_key(key)
        s3 = await self._s3()
        if last == first:
            if await self.head(key) is None:
                raise ObjectNotFound(key)
            return
        try:
            if first or last is not None:
                wanted = f"bytes={first}-{'' if last is None else last - 1}"
                response = await s3.get_object(Bucket=self.bucket, Key=key, Range=wanted)
            else:
                response = await s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectNotFound(key) from None
            if _code(exc) == "InvalidRange":
                return  # the range starts at or past the end: no bytes
            raise
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    async def head(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        s3 = await self._s3()
        try:
            response = await s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            etag=response["ETag"].strip('"'),
            modified_at=response["LastModified"].astimezone(UTC),
        )

    async def delete(self, key: str) -> None:
        validate_key(key)
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=key)

    async def copy(self, source: str, target: str) -> None:
        validate_key(target)
        info = await self.head(source)
        if info is None:
            raise ObjectNotFound(source)
        if source == target:
            return  # S3 refuses to copy an object onto itself unchanged
        s3 = await self._s3()
        if info.size <= self.max_single_copy:
            await s3.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
            )
            return
        await self._copy_in_parts(s3, source, target, info.size)

    async def _copy_in_parts(self, s3: S3Client, source: str, target: str, size: int) -> None:
        upload_id = await self.create_multipart(target)
        try:
            completed: list[CompletedPartTypeDef] = []
            for number, offset in enumerate(range(0, size, self.copy_part_size), start=1):
                last = min(offset + self.copy_part_size, size) - 1
                response = await s3.upload_part_copy(
                    Bucket=self.bucket,
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": source},
                    CopySourceRange=f"bytes={offset}-{last}",
                )
                completed.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=target,
                UploadId=upload_id,
                MultipartUpload={"Parts": completed},
            )
        except BaseException:
            await asyncio.shield(self.abort_multipart(target, upload_id))
            raise

    async def create_multipart(self, key: str) -> str:
        validate_key(key)
        s3 = await self._s3()
        response = await s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        return response["UploadId"]

    async def put_part(
        self, key: str, upload_id: str, number: int, chunks: AsyncIterable[bytes]
    ) -> PartInfo:
        check_part_number(number)
        validate_key(key)
        s3 = await self._s3()
        await self._check_upload(s3, key, upload_id)
        spool = await asyncio.to_thread(tempfile.TemporaryFile)
        try:
            await write_chunks(spool, chunks)
            await asyncio.to_thread(spool.seek, 0)
            return await self._upload_part(s3, key, upload_id, number, spool)
        finally:
            await asyncio.to_thread(spool.close)

    async def _upload_part(
        self, s3: S3Client, key: str, upload_id: str, number: int, body: bytes | IO[bytes]
    ) -> PartInfo:
        size = len(body) if isinstance(body, bytes) else await asyncio.to_thread(_length, body)
        try:
            response = await s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=size,
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise UploadNotFound(key, upload_id) from None
            raise
        return PartInfo(number=number, etag=response["ETag"].strip('"'), size=size)

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> int:
        check_parts(parts)
        validate_key(key)
        s3 = await self._s3()
        await self._check_upload(s3, key, upload_id)
        try:
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.number, "ETag": f'"{p.etag}"'} for p in parts]
                },
            )
        except ClientError as exc:
            code = _code(exc)
            if code == "NoSuchUpload":
                raise UploadNotFound(key, upload_id) from None
            if code == "EntityTooSmall":
                raise PartTooSmall(
                    f"every part but the last must hold at least {MIN_PART_SIZE} bytes (5 MiB)"
                ) from None
            if code in {"InvalidPart", "InvalidPartOrder"}:
                raise InvalidParts(
                    f"the parts are not those stored for this upload ({code})"
                ) from None
            raise
        return sum(part.size for part in parts)

    async def _check_upload(self, s3: S3Client, key: str, upload_id: str) -> None:
        """:class:`UploadNotFound` for an upload completed, aborted or never begun, before a
        part is read from the client: AWS answers ``NoSuchUpload`` by itself, but not every
        S3-compatible server does (moto answers 500)."""
        try:
            await s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=1)
        except ClientError as exc:
            if _code(exc) in {"NoSuchUpload", "404"}:
                raise UploadNotFound(key, upload_id) from None
            raise

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        s3 = await self._s3()
        try:
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise


@cache
def _session() -> AioSession:
    """One botocore session per process: its clients share the loaded service models (loading
    them takes a second)."""
    return get_session()


def _length(file: IO[bytes]) -> int:
    """The bytes from the file's position to its end (the position is kept)."""
    here = file.tell()
    end = file.seek(0, 2)
    file.seek(here)
    return end - here


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
