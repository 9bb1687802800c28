"""What the worker does with an upload: from the raw bytes waiting at ``media.upload_key`` to a
processed blob (``ready``) or a stated refusal (``failed``).

Steps, each visible on the media row as ``progress``:

1. (10) the row is read in its agency: only a ``processing`` media with an upload waiting is
   worked on (a deleted one too: it may be restored within its grace period); anything else
   is a no-op (a job may run twice, or after another finished).
2. (40) the upload is copied to a temporary file while its SHA-256 is computed.
3. If the agency already has a blob of those bytes (and its clean copy is still stored), the
   media points at it: the same bytes are processed and stored once per agency.
4. (70) Otherwise the type is sniffed again from the file (the bytes decide, not what the API
   was told) and the file processed: an image's clean copy (``images.normalise_image``), a
   video probed, remuxed without metadata (``remux.remux_clean``) and given a poster frame.
   A refusal (``MediaRefused``) settles the media as ``failed`` with its code and detail.
5. (100) The original (a copy inside storage, never downloaded again), the clean copy and the
   poster are stored under content keys; the blob is inserted (``ON CONFLICT DO NOTHING``:
   two jobs with the same bytes race safely, both writing the same bytes to the same keys)
   and the media pointed at it, only while it is still ``processing``.
6. The upload object is deleted (success or refusal), then ``upload_key`` cleared: a crash
   in between leaves the key on a settled row, and the next run of the job finishes the
   clean-up, so no upload object is ever forgotten.

Memory: files, not bytes. Storage streams in chunks, hashing runs chunk by chunk, a video is
copied packet by packet; only an image's pixels are held, bounded by the pixel limit.

Storage failures that may pass (S3 unreachable, 5xx, throttling) are named by
:func:`storage_unavailable`, so the job retries them; everything that can be recorded is.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import aiohttp
import structlog
from botocore import exceptions as boto_errors
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.media import images, remux, video
from shared.media.facts import MediaFacts, MediaRefused, RefusalCode
from shared.media.models import Media, MediaBlob
from shared.media.sniff import Unsupported, sniff_file
from shared.media.storage import ObjectNotFound, Storage, object_key

log = structlog.get_logger("chorus.media")

PROGRESS_STARTED = 10
PROGRESS_DOWNLOADED = 40
PROGRESS_PROCESSED = 70
PROGRESS_DONE = 100
UPLOAD_MISSING = "upload_missing"
"""The failure code of a media whose uploaded bytes are gone from storage."""
_FOREIGN_KEY_VIOLATION = "23503"
_RETRYABLE_S3_CODES = frozenset(
    {"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError", "Throttling"}
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run did: ``ready`` / ``failed`` (this run settled the media) or ``skipped``
    (nothing to do: already settled, or unknown)."""

    status: Literal["ready", "failed", "skipped"]
    sha256: str | None = None
    failure_code: str | None = None
    reused_blob: bool = False


@dataclass(frozen=True, slots=True)
class Processed:
    """The files made from one original, in a working folder."""

    clean: Path
    facts: MediaFacts
    """The clean copy's facts (what is served, what the platform rules check)."""
    poster: Path | None = None


@dataclass(frozen=True, slots=True)
class _Waiting:
    status: str
    upload_key: str | None


def process_file(
    original: Path, workdir: Path, *, max_pixels: int = images.DEFAULT_MAX_PIXELS
) -> Processed:
    """The clean copy (and a video's poster) of ``original``, written into ``workdir``.
    Raises ``MediaRefused`` for a file Chorus does not take. CPU-bound: call it in a thread."""
    detected = sniff_file(original)
    if isinstance(detected, Unsupported):
        raise MediaRefused(RefusalCode.UNSUPPORTED_TYPE, detected.message)
    if detected.is_video:
        video.probe_video(original)  # refuses what does not decode, with the reason
        clean = workdir / "clean.mp4"
        remux.remux_clean(original, clean)
        poster = workdir / "poster.jpg"
        video.extract_poster(clean, poster)
        return Processed(clean=clean, facts=video.probe_video(clean), poster=poster)
    clean = workdir / "clean"
    normalised = images.normalise_image(original, clean, max_pixels=max_pixels)
    return Processed(clean=clean, facts=normalised.clean)


async def process_upload(
    db: Database,
    storage: Storage,
    agency_id: uuid.UUID,
    media_id: uuid.UUID,
    *,
    max_pixels: int = images.DEFAULT_MAX_PIXELS,
    workdir: Path | None = None,
) -> Outcome:
    """Process the upload of one media (see the module docstring); safe to run twice, or
    twice at once."""
    waiting = await _start(db, agency_id, media_id)
    if waiting is None or waiting.upload_key is None:
        log.info("media.process.nothing_to_do", media_id=str(media_id))
        return Outcome("skipped")
    if waiting.status != "processing":
        await _discard_upload(db, storage, agency_id, media_id, waiting.upload_key)
        return Outcome("skipped")
    upload_key = waiting.upload_key
    with tempfile.TemporaryDirectory(prefix="chorus-media-", dir=workdir) as folder:
        work = Path(folder)
        original = work / "original"
        try:
            sha256 = await download_hashing(storage, upload_key, original)
        except ObjectNotFound:
            detail = "The uploaded file is no longer stored; upload it again."
            return await _settle_failed(
                db, agency_id, media_id, UPLOAD_MISSING, detail, upload_gone=True
            )
        await _set_progress(db, agency_id, media_id, PROGRESS_DOWNLOADED)
        outcome = await _process_downloaded(
            db, storage, agency_id, media_id, upload_key, original, sha256, max_pixels
        )
    await _discard_upload(db, storage, agency_id, media_id, upload_key)
    return outcome


async def _process_downloaded(
    db: Database,
    storage: Storage,
    agency_id: uuid.UUID,
    media_id: uuid.UUID,
    upload_key: str,
    original: Path,
    sha256: str,
    max_pixels: int,
) -> Outcome:
    # Twice at most: a blob found here may be purged before the media points at it (it named
    # no media until then); the foreign key says so and the bytes are processed again.
    for _attempt in range(2):
        blob = await _stored_blob(db, storage, agency_id, sha256)
        if blob is not None:
            try:
                return await _settle_ready(db, agency_id, media_id, sha256, new_blob=None)
            except IntegrityError as exc:
                if _sqlstate(exc) != _FOREIGN_KEY_VIOLATION:
                    raise
                log.info("media.process.blob_purged_meanwhile", sha256=sha256)
                continue
        try:
            processed = await asyncio.to_thread(
                process_file, original, original.parent, max_pixels=max_pixels
            )
        except MediaRefused as refusal:
            return await _settle_failed(db, agency_id, media_id, refusal.code.value, refusal.detail)
        await _set_progress(db, agency_id, media_id, PROGRESS_PROCESSED)
        new_blob = await _store(storage, agency_id, sha256, upload_key, processed, original)
        return await _settle_ready(db, agency_id, media_id, sha256, new_blob=new_blob)
    raise RuntimeError("unreachable: the second attempt processes the bytes")  # pragma: no cover


async def download_hashing(storage: Storage, key: str, path: Path) -> str:
    """Copy the object at ``key`` to ``path`` and return the SHA-256 hex digest of its bytes
    (each chunk hashed and written in a worker thread: hashlib releases the GIL)."""
    digest = hashlib.sha256()
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in storage.get(key):
            await asyncio.to_thread(_hash_and_write, digest, handle, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    return digest.hexdigest()


def _hash_and_write(digest: hashlib._Hash, handle: BinaryIO, chunk: bytes) -> None:
    digest.update(chunk)
    handle.write(chunk)


def storage_unavailable(exc: BaseException) -> str | None:
    """Why a storage call failed for a reason that may pass (worth retrying), or None. Looks
    through the causes: aiobotocore wraps aiohttp's errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, boto_errors.HTTPClientError | boto_errors.ConnectionError):
            return f"storage unreachable ({type(current).__name__})"
        if isinstance(current, boto_errors.ClientError):
            error = current.response.get("Error", {})
            status = int(current.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            code = str(error.get("Code", ""))
            if status >= 500 or code in _RETRYABLE_S3_CODES:
                return f"storage error {code or status}"
            return None
        if isinstance(current, aiohttp.ClientConnectionError | aiohttp.ServerTimeoutError):
            return f"storage unreachable ({type(current).__name__})"
        current = current.__cause__ or current.__context__
    return None


# -- The media row -------------------------------------------------------------------------


def _media(agency_id: uuid.UUID, media_id: uuid.UUID) -> ColumnElement[bool]:
    return and_(Media.agency_id == agency_id, Media.id == media_id)


async def _start(db: Database, agency_id: uuid.UUID, media_id: uuid.UUID) -> _Waiting | None:
    async with db.transaction(agency_id) as session:
        row = (
            await session.execute(
                select(Media.status, Media.upload_key).where(_media(agency_id, media_id))
            )
        ).one_or_none()
        if row is None:
            return None
        waiting = _Waiting(row.status, row.upload_key)
        if waiting.status == "processing" and waiting.upload_key:
            await _progress_in(session, agency_id, media_id, PROGRESS_STARTED)
        return waiting


async def _set_progress(
    db: Database, agency_id: uuid.UUID, media_id: uuid.UUID, progress: int
) -> None:
    async with db.transaction(agency_id) as session:
        await _progress_in(session, agency_id, media_id, progress)


async def _progress_in(
    session: AsyncSession, agency_id: uuid.UUID, media_id: uuid.UUID, progress: int
) -> None:
    await session.execute(
        update(Media)
        .where(_media(agency_id, media_id), Media.status == "processing")
        .where(Media.progress < progress)
        .values(progress=progress)
    )


async def _settle_ready(
    db: Database,
    agency_id: uuid.UUID,
    media_id: uuid.UUID,
    sha256: str,
    *,
    new_blob: dict[str, object] | None,
) -> Outcome:
    async with db.transaction(agency_id) as session:
        if new_blob is not None:
            await session.execute(insert(MediaBlob).values(**new_blob).on_conflict_do_nothing())
        settled = await session.execute(
            update(Media)
            .where(_media(agency_id, media_id), Media.status == "processing")
            .values(
                sha256=sha256,
                status="ready",
                progress=PROGRESS_DONE,
                failure_code=None,
                failure_detail=None,
            )
            .returning(Media.id)
        )
        if settled.first() is None:
            return Outcome("skipped", sha256=sha256)
    log.info("media.process.ready", media_id=str(media_id), reused=new_blob is None)
    return Outcome("ready", sha256=sha256, reused_blob=new_blob is None)


async def _settle_failed(
    db: Database,
    agency_id: uuid.UUID,
    media_id: uuid.UUID,
    failure_code: str,
    failure_detail: str,
    *,
    upload_gone: bool = False,
) -> Outcome:
    values: dict[str, object] = {
        "status": "failed",
        "progress": PROGRESS_DONE,
        "failure_code": failure_code,
        "failure_detail": failure_detail,
    }
    if upload_gone:
        values["upload_key"] = None
    async with db.transaction(agency_id) as session:
        settled = await session.execute(
            update(Media)
            .where(_media(agency_id, media_id), Media.status == "processing")
            .values(**values)
            .returning(Media.id)
        )
        if settled.first() is None:
            return Outcome("skipped")
    log.info("media.process.failed", media_id=str(media_id), code=failure_code)
    return Outcome("failed", failure_code=failure_code)


PROCESSING_ERROR = "processing_error"


async def fail_unexpectedly(db: Database, agency_id: uuid.UUID, media_id: uuid.UUID) -> Outcome:
    """A media whose processing raised something no refusal names (a bug, a library's crash):
    failed, saying so, rather than handed back by the sweep every few minutes for ever. The
    upload stays in storage (the sweep's clean-up removes it once the media is settled)."""
    return await _settle_failed(
        db,
        agency_id,
        media_id,
        PROCESSING_ERROR,
        "Chorus could not prepare this file (an error on our side, logged for the team); "
        "upload it again, or convert it (a JPEG or an H.264 MP4) if it fails again.",
    )


async def _discard_upload(
    db: Database, storage: Storage, agency_id: uuid.UUID, media_id: uuid.UUID, upload_key: str
) -> None:
    """Delete the upload object, then forget its key (in that order: see the docstring)."""
    await storage.delete(upload_key)
    async with db.transaction(agency_id) as session:
        await session.execute(
            update(Media)
            .where(_media(agency_id, media_id), Media.upload_key == upload_key)
            .where(Media.status != "processing")
            .values(upload_key=None)
        )


# -- Blobs ---------------------------------------------------------------------------------


async def _stored_blob(
    db: Database, storage: Storage, agency_id: uuid.UUID, sha256: str
) -> MediaBlob | None:
    """The agency's blob of these bytes, if its clean copy is still stored (a purge cut short
    may have left the row without its objects: then the bytes are processed again, which
    stores the same objects under the same keys)."""
    async with db.transaction(agency_id) as session:
        blob = await session.get(MediaBlob, (agency_id, sha256))
    if blob is None or await storage.head(blob.clean_key) is None:
        return None
    return blob


async def _store(
    storage: Storage,
    agency_id: uuid.UUID,
    sha256: str,
    upload_key: str,
    processed: Processed,
    original: Path,
) -> dict[str, object]:
    """Store the original (copied inside storage), the clean copy and the poster under
    their content keys; the blob row to insert."""
    original_key = object_key(agency_id, sha256, "original")
    clean_key = object_key(agency_id, sha256, "clean")
    await storage.copy(upload_key, original_key)
    await storage.upload_from(processed.clean, clean_key)
    poster_key = None
    if processed.poster is not None:
        poster_key = object_key(agency_id, sha256, "poster")
        await storage.upload_from(processed.poster, poster_key)
    return {
        "agency_id": agency_id,
        "sha256": sha256,
        "original_key": original_key,
        "clean_key": clean_key,
        "poster_key": poster_key,
        "media_type": processed.facts.type.value,
        "kind": processed.facts.kind.value,
        "size_bytes": await asyncio.to_thread(lambda: original.stat().st_size),
        "facts": processed.facts.to_json(),
    }


def _sqlstate(exc: IntegrityError) -> str | None:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code if isinstance(code, str) else None
