"""Keeping the media library whole: uploads whose job was lost are processed after all,
deleted media go for good after their grace period, and stored files no media names any more
are removed, objects in storage included.

Finding the work is the one query across agencies, under the named scan ``media_housekeeping``
(row-level security admits it to read ``media`` and ``media_blob``, nothing else). Doing the
work happens in each agency's own transaction.

Purging a blob races with an upload of the same bytes that found it a moment ago: the blob's
row is locked (``FOR UPDATE SKIP LOCKED``: a blob some media is being pointed at right now is
locked by that foreign key check and skipped), checked unnamed again under the lock, its
objects deleted (the clean copy first: processing takes a blob whose clean copy is missing as
no blob at all and stores it again), then its row. An upload that pointed at it meanwhile
fails its foreign key and processes the bytes again (``shared.media.processing``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Exists, delete, exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.media.models import Media, MediaBlob, MediaDerivative
from shared.media.storage import Storage

log = structlog.get_logger("chorus.media")

SCAN = "media_housekeeping"
STUCK_AFTER = timedelta(minutes=10)
"""A media untouched this long while an upload waits for it has lost its job (processing
writes its progress at every step; a job still running is not enqueued twice: same id)."""
ORPHAN_GRACE = timedelta(hours=1)
"""A blob no media names is kept this long before it is purged."""
BATCH = 500


@dataclass(frozen=True, slots=True)
class Purged:
    media: int
    blobs: int
    objects: int


async def find_waiting_uploads(
    db: Database, now: datetime, *, stuck_after: timedelta = STUCK_AFTER, limit: int = BATCH
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(agency_id, media_id)`` of every media whose upload has waited ``stuck_after`` or
    more: still processing (its job lost), or settled with the upload object not yet deleted
    (a crash in between). The processing job does what is left in either case."""
    cutoff = now - stuck_after
    async with db.transaction() as session:
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        stuck = select(Media.agency_id, Media.id).where(
            Media.status == "processing",
            Media.created_at < cutoff,
            Media.updated_at < cutoff,
            Media.upload_key.is_not(None),
        )
        left = select(Media.agency_id, Media.id).where(
            Media.status != "processing",
            Media.upload_key.is_not(None),
            Media.updated_at < cutoff,
        )
        rows = (await session.execute(stuck.union_all(left).limit(limit))).all()
    return [(agency_id, media_id) for agency_id, media_id in rows]


async def purge(
    db: Database,
    storage: Storage,
    now: datetime,
    *,
    orphan_grace: timedelta = ORPHAN_GRACE,
    limit: int = BATCH,
) -> Purged:
    """Remove deleted media whose ``purge_after`` has passed, then every blob no media names
    (created ``orphan_grace`` ago or more) with its derivatives and all their objects."""
    media = await _purge_deleted_media(db, storage, now, limit)
    blobs, objects = await _purge_orphan_blobs(db, storage, now - orphan_grace, limit)
    if media or blobs:
        log.info("media.purged", media=media, blobs=blobs, objects=objects)
    return Purged(media=media, blobs=blobs, objects=objects)


async def _purge_deleted_media(db: Database, storage: Storage, now: datetime, limit: int) -> int:
    async with db.transaction() as session:
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        due = (
            await session.execute(
                select(Media.agency_id, Media.id)
                .where(Media.purge_after.is_not(None), Media.purge_after <= now)
                .order_by(Media.purge_after)
                .limit(limit)
            )
        ).all()
    by_agency: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for agency_id, media_id in due:
        by_agency[agency_id].append(media_id)
    purged = 0
    for agency_id, media_ids in by_agency.items():
        async with db.transaction(agency_id) as session:
            rows = (
                await session.execute(
                    delete(Media)
                    .where(
                        Media.agency_id == agency_id,
                        Media.id.in_(media_ids),
                        Media.purge_after <= now,
                    )
                    .returning(Media.upload_key)
                )
            ).all()
            for (upload_key,) in rows:
                if upload_key:
                    await storage.delete(upload_key)
            purged += len(rows)
    return purged


async def _purge_orphan_blobs(
    db: Database, storage: Storage, created_before: datetime, limit: int
) -> tuple[int, int]:
    async with db.transaction() as session:
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        candidates = (
            await session.execute(
                select(MediaBlob.agency_id, MediaBlob.sha256)
                .where(MediaBlob.created_at < created_before, ~_named(MediaBlob))
                .limit(limit)
            )
        ).all()
    by_agency: dict[uuid.UUID, list[str]] = defaultdict(list)
    for agency_id, sha256 in candidates:
        by_agency[agency_id].append(sha256)
    blobs = objects = 0
    for agency_id, hashes in by_agency.items():
        for sha256 in hashes:
            async with db.transaction(agency_id) as session:
                removed = await _purge_blob(session, storage, agency_id, sha256)
            if removed is not None:
                blobs += 1
                objects += removed
    return blobs, objects


async def _purge_blob(
    session: AsyncSession, storage: Storage, agency_id: uuid.UUID, sha256: str
) -> int | None:
    """Delete one blob no media names, objects first; the objects deleted, or None when it
    is locked or named again."""
    blob = (
        await session.execute(
            select(MediaBlob)
            .where(MediaBlob.agency_id == agency_id, MediaBlob.sha256 == sha256, ~_named(MediaBlob))
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if blob is None:
        return None
    derived = (
        await session.scalars(
            select(MediaDerivative.storage_key).where(
                MediaDerivative.agency_id == agency_id, MediaDerivative.sha256 == sha256
            )
        )
    ).all()
    keys = [blob.clean_key, *derived, blob.poster_key, blob.original_key]
    for key in keys:
        if key:
            await storage.delete(key)
    await session.execute(
        delete(MediaBlob).where(MediaBlob.agency_id == agency_id, MediaBlob.sha256 == sha256)
    )
    return sum(1 for key in keys if key)


def _named(blob: type[MediaBlob]) -> Exists:
    return exists().where(Media.agency_id == blob.agency_id, Media.sha256 == blob.sha256)
