"""Resumable uploads (issue #17), independent of the protocol that carries them: create one,
say how far it got, append a stream of bytes at an offset, finish it into a media, abort it,
and drop the ones left unfinished past their expiry.

Why tus 1.0 (``services/api/routes/media_uploads.py`` speaks it) rather than S3 multipart with
pre-signed part URLs: with tus the clients people already use (tus-js-client and Uppy in a
browser, TUSKit on iOS, tus-android) resume by themselves after a dropped connection, asking
the server how far it got (``HEAD``) and sending the rest (``PATCH``); nothing of ours has to
run in the client. Pre-signed parts need a client that plans parts, signs each through us,
collects ETags and completes, and they only exist on S3: the filesystem back-end (``make run``)
would need a second protocol. tus works the same on both back-ends because the bytes go
through the API, which stores them through the one ``Storage`` interface.

How bytes are kept. The storage takes a multipart upload whose parts (but the last) are at
least 5 MiB, so the bytes are cut into parts of ``media_resumable_part_bytes``. What arrives
past the last whole part (a request that ends, or a connection cut, mid-part) is kept as a
*tail* object beside the upload and becomes the start of the next part. The row's
``upload_offset`` is what is durably kept: the parts stored plus the tail. It is committed
after each part and after the tail is written, each write ordered so that a crash between the
storage and the database loses at most the bytes not yet committed (the tail object is read
only up to the committed ``tail_size``; a part stored but not recorded is sent again). Memory
per request: one part. One writer per upload at a time: a Redis lock with a time to live
that the writer keeps refreshing, so a crashed writer's lock runs out by itself; the offset
is also checked in the ``UPDATE`` itself, so two writers could never both commit.

The first bytes are sniffed (``shared.media.sniff``) as soon as they are in: a type Chorus
does not take aborts the upload. When the last byte is in, the parts are joined and the media
is registered (status ``processing``) for the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

import structlog
from arq.connections import ArqRedis
from sqlalchemy import CursorResult, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access.policy import allowed
from shared.access.principal import Principal
from shared.config import Settings
from shared.db import Database
from shared.errors import AppError, BadRequest, Conflict, NotFound, PayloadTooLarge
from shared.media import service as media_service
from shared.media.models import MediaUpload
from shared.media.sniff import ACCEPTED_MIME_TYPES, HEAD_BYTES, Unsupported, sniff
from shared.media.storage import MAX_PART_NUMBER, PartInfo, Storage, UploadNotFound

log = structlog.get_logger("chorus.media")

SCAN = "media_upload_expiry"
"""The named scan (``app.scan``) of the expiry sweep: it may list every agency's uploads."""
LOCK_TTL_SECONDS = 30
"""A writer's lock lives this long unless refreshed (every third of it while writing)."""
TAIL_SUFFIX = ".tail"


# Errors -------------------------------------------------------------------------------------


class UploadLocked(AppError):
    status_code = 423
    code = "media_upload_locked"
    title = "Locked"


class UploadExpired(AppError):
    status_code = 410
    code = "media_upload_expired"
    title = "Gone"


class UploadTypeRefused(AppError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class OffsetMismatch(Conflict):
    code = "media_upload_offset_mismatch"


# What a caller sees ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadState:
    """An upload as the protocol reports it."""

    id: uuid.UUID
    length: int
    offset: int
    expires_at: datetime
    status: str
    """``open``, ``complete`` or ``aborted``."""
    media_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a writer needs of the row, read once under the lock."""

    agency_id: uuid.UUID
    id: uuid.UUID
    length: int
    offset: int
    key: str
    storage_upload_id: str
    parts: tuple[PartInfo, ...]
    tail_size: int
    details: dict[str, Any]

    @property
    def tail_key(self) -> str:
        return self.key + TAIL_SUFFIX

    @property
    def parts_size(self) -> int:
        return sum(part.size for part in self.parts)


def _state(row: MediaUpload) -> UploadState:
    return UploadState(
        row.id, row.upload_length, row.upload_offset, row.expires_at, row.status, row.media_id
    )


def _details_json(details: media_service.MediaDetails) -> dict[str, Any]:
    return {
        "name": details.name,
        "brand_id": str(details.brand_id) if details.brand_id else None,
        "location_id": str(details.location_id) if details.location_id else None,
        "folder": details.folder,
        "tags": list(details.tags),
    }


def _details_of(data: dict[str, Any]) -> media_service.MediaDetails:
    return media_service.MediaDetails(
        name=data["name"],
        brand_id=uuid.UUID(data["brand_id"]) if data.get("brand_id") else None,
        location_id=uuid.UUID(data["location_id"]) if data.get("location_id") else None,
        folder=data.get("folder", ""),
        tags=tuple(data.get("tags", ())),
    )


def _parts_json(parts: tuple[PartInfo, ...]) -> list[dict[str, Any]]:
    return [{"number": p.number, "etag": p.etag, "size": p.size} for p in parts]


def _parts_of(data: list[dict[str, Any]]) -> tuple[PartInfo, ...]:
    return tuple(PartInfo(int(p["number"]), str(p["etag"]), int(p["size"])) for p in data)


# Create, read, abort --------------------------------------------------------------------------


def max_size(settings: Settings) -> int:
    """The largest upload: the setting, or what S3's 10,000 parts of the part size hold."""
    return min(
        settings.media_resumable_max_bytes, settings.media_resumable_part_bytes * MAX_PART_NUMBER
    )


def check_length(settings: Settings, length: int) -> None:
    """The declared length, against the largest file and the parts it would take."""
    if length <= 0:
        raise BadRequest(
            "Upload-Length must be the file's size in bytes, at least 1",
            code="media_upload_length_invalid",
        )
    most = max_size(settings)
    if length > most:
        raise PayloadTooLarge(
            f"Upload-Length is {length} bytes; a resumable upload takes at most {most} bytes "
            "(Tus-Max-Size)",
            code="media_upload_too_large",
            extra={"max_bytes": most, "size_bytes": length},
        )


async def create(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    details: media_service.MediaDetails,
    length: int,
    *,
    field_prefix: str = "Upload-Metadata.",
) -> UploadState:
    """A new open upload of ``length`` bytes for a media described by ``details`` (checked
    now, as a direct upload's would be: owner, permission, size, the plan's storage)."""
    check_length(settings, length)
    cleaned = await media_service.check_new_media(
        session,
        settings,
        principal,
        details,
        length,
        max_bytes=settings.media_resumable_max_bytes,
        prefix=field_prefix,
    )
    upload_id = uuid.uuid4()
    key = media_service.upload_key(principal.agency_id, upload_id)
    storage_upload_id = await storage.create_multipart(key)
    try:
        row = MediaUpload(
            agency_id=principal.agency_id,
            id=upload_id,
            upload_length=length,
            upload_offset=0,
            storage_key=key,
            storage_upload_id=storage_upload_id,
            parts=[],
            tail_size=0,
            details=_details_json(cleaned),
            status="open",
            created_by=principal.user_id,
            expires_at=clock.now() + timedelta(seconds=settings.media_resumable_expiry_seconds),
        )
        session.add(row)
        await session.flush()
    except BaseException:
        await storage.abort_multipart(key, storage_upload_id)
        raise
    log.info("media.upload_created", upload_id=str(upload_id), length=length)
    return _state(row)


async def _load(
    session: AsyncSession, principal: Principal, upload_id: uuid.UUID, *, for_update: bool = False
) -> MediaUpload:
    """The upload, if the principal may add media where it goes; else 404 (another agency's,
    another location's, or none)."""
    query = select(MediaUpload).where(
        MediaUpload.agency_id == principal.agency_id, MediaUpload.id == upload_id
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None or not _may_write(principal, row):
        raise NotFound(
            "no such upload here: it was never created in this agency, or it is not yours to "
            "continue; create one with POST /v1/media/uploads"
        )
    return row


def _may_write(principal: Principal, row: MediaUpload) -> bool:
    details = _details_of(row.details)
    return allowed(
        principal, "media.create", media_service.target_of(details.brand_id, details.location_id)
    )


async def state(session: AsyncSession, principal: Principal, upload_id: uuid.UUID) -> UploadState:
    """How far the upload got (``HEAD``): 404 once aborted, 410 once expired."""
    row = await _load(session, principal, upload_id)
    _refuse_ended(row)
    return _state(row)


def _refuse_ended(row: MediaUpload) -> None:
    if row.status == "aborted":
        raise NotFound(
            f"upload {row.id} was terminated or expired; start a new one with "
            "POST /v1/media/uploads",
            code="media_upload_not_found",
        )
    if row.status == "open" and row.expires_at <= clock.now():
        raise UploadExpired(
            f"upload {row.id} expired at {row.expires_at.isoformat()} with "
            f"{row.upload_offset} of {row.upload_length} bytes; start a new one with "
            "POST /v1/media/uploads",
        )


async def abort(
    session: AsyncSession,
    storage: Storage,
    redis: ArqRedis,
    principal: Principal,
    upload_id: uuid.UUID,
) -> None:
    """Terminate an open upload: its stored bytes are dropped (``DELETE``)."""
    row = await _load(session, principal, upload_id, for_update=True)
    if row.status == "aborted":
        raise NotFound(f"upload {upload_id} was already terminated", code="media_upload_not_found")
    if row.status == "complete":
        raise Conflict(
            f"upload {upload_id} is complete: its file is media {row.media_id}; delete that "
            f"with DELETE /v1/media/{row.media_id}",
            code="media_upload_complete",
        )
    async with UploadLock.hold(redis, row.agency_id, row.id):
        await _drop_stored(storage, row)
        row.status = "aborted"
        await session.flush()
    log.info("media.upload_aborted", upload_id=str(upload_id), reason="terminated")


async def _drop_stored(storage: Storage, row: MediaUpload) -> None:
    if row.storage_upload_id:
        await storage.abort_multipart(row.storage_key, row.storage_upload_id)
    await storage.delete(row.storage_key + TAIL_SUFFIX)


# The writer's lock ------------------------------------------------------------------------------

_REFRESH = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class UploadLock:
    """One writer per upload: ``SET NX`` with a time to live, refreshed in the background
    while held, released only by its holder."""

    ttl_seconds: ClassVar[float] = LOCK_TTL_SECONDS

    def __init__(self, redis: ArqRedis, agency_id: uuid.UUID, upload_id: uuid.UUID) -> None:
        self.redis = redis
        self.key = f"media:upload:{agency_id}:{upload_id}:writer"
        self.token = secrets.token_hex(16)
        self.lost = False
        self._refresher: asyncio.Task[None] | None = None

    async def acquire(self) -> bool:
        ttl_ms = int(self.ttl_seconds * 1000)
        taken = await self.redis.set(self.key, self.token, nx=True, px=ttl_ms)
        if taken:
            self._refresher = asyncio.create_task(self._refresh())
        return bool(taken)

    async def _refresh(self) -> None:
        ttl_ms = int(self.ttl_seconds * 1000)
        while True:
            await asyncio.sleep(self.ttl_seconds / 3)
            try:
                kept = await self.redis.eval(_REFRESH, 1, self.key, self.token, str(ttl_ms))  # type: ignore[misc]
            except Exception:  # a Redis blip: try again at the next beat, while the TTL holds
                log.warning("media.upload_lock_refresh_failed", key=self.key)
                continue
            if not kept:
                self.lost = True
                return

    async def release(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        with contextlib.suppress(Exception):  # its TTL ends it anyway
            await self.redis.eval(_RELEASE, 1, self.key, self.token)  # type: ignore[misc]

    @classmethod
    @contextlib.asynccontextmanager
    async def hold(
        cls, redis: ArqRedis, agency_id: uuid.UUID, upload_id: uuid.UUID
    ) -> AsyncIterator[UploadLock]:
        lock = cls(redis, agency_id, upload_id)
        if not await lock.acquire():
            raise UploadLocked(
                f"upload {upload_id} is being written by another request; wait for it to end "
                f"(or for its lock to lapse, {LOCK_TTL_SECONDS} s after it stops), then ask "
                "for the offset (HEAD) and resume from there",
                headers={"Retry-After": str(LOCK_TTL_SECONDS)},
            )
        try:
            yield lock
        finally:
            await lock.release()


# Appending ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Writer:
    """Cuts the incoming bytes into parts, keeping at most one part (plus a chunk) in
    memory; commits after each part and on the way out."""

    db: Database
    storage: Storage
    principal: Principal
    part_size: int
    expiry: timedelta
    upload: _Snapshot
    buffer: bytearray
    """Bytes past the last stored part: the committed tail, then what came since."""
    committed_tail: int

    @property
    def offset(self) -> int:
        return self.upload.parts_size + len(self.buffer)

    @property
    def dirty(self) -> bool:
        return len(self.buffer) != self.committed_tail

    async def take(self, chunk: bytes) -> None:
        self.buffer += chunk
        await self._sniff_if_due()
        while len(self.buffer) >= self.part_size:
            await self._store_part(self.part_size)

    async def _sniff_if_due(self) -> None:
        upload = self.upload
        if "media_type" in upload.details or upload.parts:
            return
        if len(self.buffer) < min(HEAD_BYTES, upload.length):
            return
        found = sniff(bytes(self.buffer[:HEAD_BYTES]))
        if isinstance(found, Unsupported):
            raise _Refused(found)
        self.upload = replace(upload, details={**upload.details, "media_type": found.value})

    async def _store_part(self, size: int) -> None:
        number = len(self.upload.parts) + 1
        part = await self.storage.put_part(
            self.upload.key,
            self.upload.storage_upload_id,
            number,
            _one(bytes(self.buffer[:size])),
        )
        del self.buffer[:size]
        parts = (*self.upload.parts, part)
        await self._commit(parts, tail_size=0)
        self.upload = replace(self.upload, parts=parts)
        # The tail object now lies inside the part; bytes still in the buffer are new.
        self.committed_tail = 0

    async def save_tail(self) -> None:
        """Keep the bytes past the last part (the request ended or broke mid-part)."""
        if not self.dirty:
            return
        tail = bytes(self.buffer)
        await self.storage.put(self.upload.tail_key, _one(tail))
        await self._commit(self.upload.parts, tail_size=len(tail))
        self.committed_tail = len(tail)

    async def store_last_part(self) -> None:
        if self.buffer:
            await self._store_part(len(self.buffer))

    async def _commit(self, parts: tuple[PartInfo, ...], *, tail_size: int) -> None:
        upload = self.upload
        offset = sum(p.size for p in parts) + tail_size
        async with self.db.transaction(upload.agency_id, self.principal.user_id) as session:
            moved: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(MediaUpload)
                .where(
                    MediaUpload.agency_id == upload.agency_id,
                    MediaUpload.id == upload.id,
                    MediaUpload.status == "open",
                    MediaUpload.upload_offset == upload.offset,
                )
                .values(
                    parts=_parts_json(parts),
                    tail_size=tail_size,
                    upload_offset=offset,
                    details=upload.details,
                    expires_at=clock.now() + self.expiry,
                    updated_at=clock.now(),
                )
            )
            if moved.rowcount != 1:
                raise Conflict(
                    f"upload {upload.id} changed while this request wrote to it (another "
                    "writer, a termination or the expiry sweep); ask for the offset (HEAD)",
                    code="media_upload_moved",
                )
        self.upload = replace(upload, offset=offset)


class _Refused(Exception):
    def __init__(self, found: Unsupported) -> None:
        super().__init__(found.message)
        self.found = found


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def append(
    db: Database,
    storage: Storage,
    redis: ArqRedis,
    settings: Settings,
    principal: Principal,
    upload_id: uuid.UUID,
    offset: int,
    body: AsyncIterable[bytes],
    *,
    declared_size: int | None = None,
) -> UploadState:
    """Append ``body`` at ``offset`` (which must be the upload's offset); when the last byte
    is in, finish the upload into a media. Whatever arrives is kept, however the body ends."""
    async with UploadLock.hold(redis, principal.agency_id, upload_id) as lock:
        async with db.transaction(principal.agency_id, principal.user_id) as session:
            row = await _load(session, principal, upload_id)
            _refuse_ended(row)
            if row.status == "complete":
                if offset != row.upload_length:
                    raise _mismatch(row, offset)
                return _state(row)
            if offset != row.upload_offset:
                raise _mismatch(row, offset)
            row.expires_at = clock.now() + timedelta(
                seconds=settings.media_resumable_expiry_seconds
            )
            left = row.upload_length - row.upload_offset
            if declared_size is not None and declared_size > left:
                raise _past_the_end(row, declared_size)
            upload = _Snapshot(
                row.agency_id,
                row.id,
                row.upload_length,
                row.upload_offset,
                row.storage_key,
                row.storage_upload_id or "",
                _parts_of(row.parts),
                row.tail_size,
                dict(row.details),
            )
        writer = _Writer(
            db,
            storage,
            principal,
            settings.media_resumable_part_bytes,
            timedelta(seconds=settings.media_resumable_expiry_seconds),
            upload,
            bytearray(await _read_tail(storage, upload)),
            upload.tail_size,
        )
        try:
            await _receive(writer, body, lock)
        except _Refused as refused:
            await _abort_refused(db, storage, principal, writer.upload)
            raise UploadTypeRefused(
                f"{refused.found.message}; upload {upload_id} was terminated",
                extra={"accepted": list(ACCEPTED_MIME_TYPES), "detected": refused.found.detected},
            ) from None
        except BaseException:
            # A cut connection (ClientDisconnect), a body past the end, a failing part: keep
            # every byte that arrived, then let the error answer (or end) the request.
            await _shielded(writer.save_tail, upload_id)
            raise
        if writer.offset < upload.length:
            await writer.save_tail()
            return UploadState(
                upload.id,
                upload.length,
                writer.offset,
                clock.now() + writer.expiry,
                "open",
                None,
            )
        return await _finish(db, storage, redis, principal, writer)


async def _receive(writer: _Writer, body: AsyncIterable[bytes], lock: UploadLock) -> None:
    length = writer.upload.length
    async for chunk in body:
        if not chunk:
            continue
        if lock.lost:
            raise UploadLocked(
                f"upload {writer.upload.id} lost its writer's lock (this request stalled past "
                f"{LOCK_TTL_SECONDS} s); ask for the offset (HEAD) and resume from there"
            )
        room = length - writer.offset
        if len(chunk) > room:
            if room:
                await writer.take(chunk[:room])
            raise PayloadTooLarge(
                f"the body runs past Upload-Length ({length} bytes): the first {length} bytes "
                "were kept, the rest refused; send exactly the bytes the file has left",
                code="media_upload_past_length",
                extra={"upload_length": length},
            )
        await writer.take(chunk)


async def _shielded(save: Callable[[], Awaitable[None]], upload_id: uuid.UUID) -> None:
    """Run ``save`` to its end even when this request is being cancelled; a failure is logged
    (the bytes not kept are asked for again: the committed offset says where to resume)."""
    try:
        await asyncio.shield(save())
    except Exception:
        log.exception("media.upload_tail_not_saved", upload_id=str(upload_id))


async def _read_tail(storage: Storage, upload: _Snapshot) -> bytes:
    if not upload.tail_size:
        return b""
    pieces = [chunk async for chunk in storage.get(upload.tail_key, 0, upload.tail_size)]
    return b"".join(pieces)


def _mismatch(row: MediaUpload, offset: int) -> OffsetMismatch:
    return OffsetMismatch(
        f"Upload-Offset is {offset}, but upload {row.id} holds {row.upload_offset} bytes; "
        f"send the bytes from {row.upload_offset} on (ask with HEAD before resuming)",
        headers={"Upload-Offset": str(row.upload_offset)},
        extra={"upload_offset": row.upload_offset},
    )


def _past_the_end(row: MediaUpload, size: int) -> PayloadTooLarge:
    left = row.upload_length - row.upload_offset
    return PayloadTooLarge(
        f"the body is {size} bytes, but upload {row.id} has {left} bytes left of its "
        f"Upload-Length ({row.upload_length}); send at most {left} bytes",
        code="media_upload_past_length",
        extra={"upload_length": row.upload_length, "upload_offset": row.upload_offset},
    )


async def _abort_refused(
    db: Database, storage: Storage, principal: Principal, upload: _Snapshot
) -> None:
    async with db.transaction(upload.agency_id, principal.user_id) as session:
        row = await _load(session, principal, upload.id, for_update=True)
        await _drop_stored(storage, row)
        row.status = "aborted"
    log.info("media.upload_aborted", upload_id=str(upload.id), reason="type_refused")


async def _finish(
    db: Database, storage: Storage, redis: ArqRedis, principal: Principal, writer: _Writer
) -> UploadState:
    """All bytes are in: the last part stored and recorded (so a crash after this is finished
    by the next ``PATCH`` at the end offset), the parts joined, the media registered."""
    if "media_type" not in writer.upload.details:  # a file shorter than the sniffed head
        found = sniff(bytes(writer.buffer[:HEAD_BYTES]))
        if isinstance(found, Unsupported):
            await _abort_refused(db, storage, principal, writer.upload)
            raise UploadTypeRefused(
                f"{found.message}; upload {writer.upload.id} was terminated",
                extra={"accepted": list(ACCEPTED_MIME_TYPES), "detected": found.detected},
            )
        writer.upload = replace(
            writer.upload, details={**writer.upload.details, "media_type": found.value}
        )
    await writer.store_last_part()
    upload = writer.upload
    try:
        size = await storage.complete_multipart(upload.key, upload.storage_upload_id, upload.parts)
    except UploadNotFound:  # completed before a crash that kept it from being recorded
        info = await storage.head(upload.key)
        if info is None or info.size != upload.length:
            raise
        size = info.size
    await storage.delete(upload.tail_key)
    async with db.transaction(upload.agency_id, principal.user_id) as session:
        row = await _load(session, principal, upload.id, for_update=True)
        if row.status == "open":
            media = await media_service.register_upload(
                session,
                redis,
                principal,
                _details_of(row.details),
                key=upload.key,
                size=size,
                media_type=str(row.details["media_type"]),
            )
            row.status = "complete"
            row.media_id = media.id
            await session.flush()
        finished = _state(row)
    log.info("media.upload_complete", upload_id=str(upload.id), media_id=str(finished.media_id))
    return finished


# The expiry sweep -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpiredUpload:
    agency_id: uuid.UUID
    upload_id: uuid.UUID


async def find_expired(session: AsyncSession, *, now: datetime, limit: int) -> list[ExpiredUpload]:
    """Across agencies (the named scan, read-only): open uploads past their expiry."""
    await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
    try:
        rows = await session.execute(
            select(MediaUpload.agency_id, MediaUpload.id)
            .where(MediaUpload.status == "open", MediaUpload.expires_at <= now)
            .order_by(MediaUpload.expires_at)
            .limit(limit)
        )
        return [ExpiredUpload(agency_id, upload_id) for agency_id, upload_id in rows.all()]
    finally:
        await session.execute(text("SELECT set_config('app.scan', '', true)"))


async def expire_due(
    db: Database, storage: Storage, redis: ArqRedis, *, now: datetime, limit: int = 500
) -> int:
    """Abort the open uploads past their expiry, each in its own agency; an upload being
    written to (its lock held) is left for the next pass. How many were aborted."""
    async with db.transaction() as session:
        due = await find_expired(session, now=now, limit=limit)
    aborted = 0
    for item in due:
        lock = UploadLock(redis, item.agency_id, item.upload_id)
        if not await lock.acquire():
            continue
        try:
            async with db.transaction(item.agency_id) as session:
                row = (
                    await session.execute(
                        select(MediaUpload)
                        .where(
                            MediaUpload.agency_id == item.agency_id,
                            MediaUpload.id == item.upload_id,
                            MediaUpload.status == "open",
                            MediaUpload.expires_at <= now,
                        )
                        .with_for_update(skip_locked=True)
                    )
                ).scalar_one_or_none()
                if row is None:
                    continue
                await _drop_stored(storage, row)
                row.status = "aborted"
            aborted += 1
            log.info("media.upload_aborted", upload_id=str(item.upload_id), reason="expired")
        except Exception:  # one agency's failing storage must not stop the others
            log.exception("media.upload_expiry_failed", upload_id=str(item.upload_id))
        finally:
            await lock.release()
    return aborted
