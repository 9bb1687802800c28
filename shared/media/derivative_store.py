"""A platform's copy of a processed file, made once and kept (``media_derivative``).

Three things can be sent for one media, and each has its own call:

- an image's **derivative** for a placement (``get_or_make`` with a ``Target``): cut from the
  blob's clean copy around the media's focal point, cached under
  ``derivatives.derivative_key(target, focal)`` beside the blob's content hash, so the same
  target and focal point are made once per agency and content, whoever asks;
- a video **as it is** (``video_as_is``): videos are never transcoded; the clean copy (remuxed
  without metadata) is sent when ``platform_rules.check`` passes for the placement, and
  :class:`NotAccepted` lists what the platform would refuse otherwise;
- a video's **cover** (``get_or_make`` with ``Target(..., cover=True)``): cut from the blob's
  poster frame, cached like an image's derivative.

An animated GIF is sent as its clean copy (a still would lose the animation). A placement that
makes no derivative of an image (none today takes images without one) gets the clean copy too.

``derivatives_for_post`` puts these together for one post: per media id, in order, what to
send for a platform's placement, and every platform rule the set breaks.

Derivatives are deterministic (``shared.media.derivatives``): two workers racing to make the
same one write the same bytes to the same key, and the row is inserted ``ON CONFLICT DO
NOTHING``, so the race costs work, never correctness.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.content.media import MediaKind
from shared.db import Database
from shared.db.tenancy import set_tenant
from shared.errors import Conflict, NotFound
from shared.media import derivatives, platform_rules
from shared.media.derivatives import CENTRE, FocalPoint, Target
from shared.media.facts import MediaFacts
from shared.media.models import Media, MediaBlob, MediaDerivative
from shared.media.platform_rules import Problem
from shared.media.storage import Storage, object_key
from shared.platforms.registry import PLATFORM_NAMES

_VARIANT_UNSAFE = re.compile(r"[^a-z0-9_-]")
_MAX_VARIANT = 64


@dataclass(frozen=True, slots=True)
class StoredDerivative:
    """A stored file to send: its storage key (sign it with ``shared.media.signing``) and its
    facts (type, size, dimensions)."""

    storage_key: str
    facts: MediaFacts


class BlobNotFound(NotFound):
    code = "media_blob_not_found"


class NotAccepted(Conflict):
    """The file is what it is (a video is never re-encoded) and the placement refuses it."""

    code = "media_not_accepted"

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = list(problems)


class MediaUnavailable(Conflict):
    """A post names media that cannot be sent: unknown in this agency, deleted, still
    processing, or failed."""

    code = "media_unavailable"

    def __init__(self, reasons: dict[uuid.UUID, str]) -> None:
        listed = ", ".join(f"{media_id} ({why})" for media_id, why in reasons.items())
        super().__init__(f"media that cannot be sent: {listed}")
        self.reasons = reasons


async def get_or_make(
    session: AsyncSession,
    storage: Storage,
    agency_id: uuid.UUID,
    sha256: str,
    target: Target,
    focal: FocalPoint = CENTRE,
    *,
    workdir: Path | None = None,
) -> StoredDerivative:
    """The derivative of a blob for ``target`` (a cover when ``target.cover``: cut from the
    poster), made and stored the first time it is asked for. ``BlobNotFound`` when the
    agency has no such blob (or, for a cover, the blob has no poster)."""
    key = derivatives.derivative_key(target, focal)
    made = await _derivative_row(session, agency_id, sha256, key)
    if made is not None:
        return made
    blob = await _blob(session, agency_id, sha256)
    source_key = blob.poster_key if target.cover else blob.clean_key
    if source_key is None:
        raise BlobNotFound(f"media {sha256[:12]}… has no poster frame to cut a cover from")
    storage_key = object_key(agency_id, sha256, derivative_variant(key))
    with tempfile.TemporaryDirectory(prefix="chorus-derivative-", dir=workdir) as folder:
        source = Path(folder) / "source"
        await storage.download_to(source_key, source)
        out = Path(folder) / "derivative"
        derivative = await asyncio.to_thread(
            derivatives.make_derivative, source, target, out, focal
        )
        await storage.upload_from(out, storage_key)
    await session.execute(
        insert(MediaDerivative)
        .values(
            agency_id=agency_id,
            sha256=sha256,
            key=key,
            storage_key=storage_key,
            facts=derivative.facts.to_json(),
        )
        .on_conflict_do_nothing()
    )
    stored = await _derivative_row(session, agency_id, sha256, key)
    assert stored is not None  # inserted now, or by the worker that raced us
    return stored


async def get_or_make_all(
    session: AsyncSession,
    storage: Storage,
    agency_id: uuid.UUID,
    sha256: str,
    targets: Sequence[Target],
    focal: FocalPoint = CENTRE,
    *,
    workdir: Path | None = None,
) -> dict[Target, StoredDerivative]:
    """``get_or_make`` for several targets of one blob at once (every platform's copies
    ahead of a campaign, say): the missing ones are cut from one download of each source,
    decoding it once per decode scale (``derivatives.make_derivatives``), and inserted in one
    statement. All targets must be covers, or none."""
    wanted = list(dict.fromkeys(targets))
    if len({target.cover for target in wanted}) > 1:
        raise ValueError("make covers and image derivatives in separate calls")
    keys = {target: derivatives.derivative_key(target, focal) for target in wanted}
    found = await _derivative_rows(session, agency_id, sha256, list(keys.values()))
    missing = [target for target in wanted if keys[target] not in found]
    if missing:
        blob = await _blob(session, agency_id, sha256)
        source_key = blob.poster_key if missing[0].cover else blob.clean_key
        if source_key is None:
            raise BlobNotFound(f"media {sha256[:12]}… has no poster frame to cut a cover from")
        with tempfile.TemporaryDirectory(prefix="chorus-derivative-", dir=workdir) as folder:
            source = Path(folder) / "source"
            await storage.download_to(source_key, source)
            made = await asyncio.to_thread(
                derivatives.make_derivatives, source, missing, Path(folder), focal
            )
            rows = []
            for derivative in made:
                storage_key = object_key(agency_id, sha256, derivative_variant(derivative.key))
                await storage.upload_from(derivative.path, storage_key)
                rows.append(
                    {
                        "agency_id": agency_id,
                        "sha256": sha256,
                        "key": derivative.key,
                        "storage_key": storage_key,
                        "facts": derivative.facts.to_json(),
                    }
                )
        await session.execute(insert(MediaDerivative).values(rows).on_conflict_do_nothing())
        found = await _derivative_rows(session, agency_id, sha256, list(keys.values()))
    return {target: found[keys[target]] for target in wanted}


async def video_as_is(
    session: AsyncSession, agency_id: uuid.UUID, sha256: str, platform: str, placement: str
) -> StoredDerivative:
    """A video's clean copy for a placement, or :class:`NotAccepted` naming each rule it
    breaks there."""
    blob = await _blob(session, agency_id, sha256)
    facts = MediaFacts.from_json(blob.facts)
    problems = platform_rules.check(platform, placement, [facts])
    if problems:
        raise NotAccepted(problems)
    return StoredDerivative(blob.clean_key, facts)


@dataclass(frozen=True, slots=True)
class PostMedia:
    """What to send for one media of a post."""

    media_id: uuid.UUID
    file: StoredDerivative
    cover: StoredDerivative | None = None
    """A video's cover, where the placement takes one."""


@dataclass(frozen=True, slots=True)
class PostFiles:
    """The files of one post for one placement, in the post's order, and every rule of the
    placement they break together (count, kinds, and each file's own limits)."""

    items: list[PostMedia]
    problems: list[Problem] = field(default_factory=list)


async def derivatives_for_post(
    session: AsyncSession,
    storage: Storage,
    agency_id: uuid.UUID,
    platform: str,
    placement: str,
    media_ids: Sequence[uuid.UUID],
    *,
    workdir: Path | None = None,
) -> PostFiles:
    """Per media id (in order), the stored file to send to ``platform``'s ``placement``:
    an image's derivative cut around the media's focal point, a GIF or a video as it is, a
    video's cover where the placement takes one. Derivatives missing are made now.
    ``MediaUnavailable`` when a media is unknown, deleted, or not ``ready``."""
    rows = await _ready_media(session, agency_id, media_ids)
    where = platform_rules.placement(platform, placement)
    items: list[PostMedia] = []
    for media_id in media_ids:
        media, blob = rows[media_id]
        focal = FocalPoint(media.focal_x, media.focal_y)
        kind = MediaKind(blob.kind)
        cover = None
        if kind is MediaKind.VIDEO:
            file = StoredDerivative(blob.clean_key, MediaFacts.from_json(blob.facts))
            if where.cover_derivative is not None and blob.poster_key is not None:
                cover = await get_or_make(
                    session,
                    storage,
                    agency_id,
                    blob.sha256,
                    Target(platform, placement, cover=True),
                    focal,
                    workdir=workdir,
                )
        elif kind is MediaKind.IMAGE and where.derivative is not None:
            file = await get_or_make(
                session,
                storage,
                agency_id,
                blob.sha256,
                Target(platform, placement),
                focal,
                workdir=workdir,
            )
        else:
            file = StoredDerivative(blob.clean_key, MediaFacts.from_json(blob.facts))
        items.append(PostMedia(media_id, file, cover))
    problems = platform_rules.check(platform, placement, [item.file.facts for item in items])
    return PostFiles(items, problems)


def placement_for(platform: str, kinds: Sequence[MediaKind], count: int) -> str | None:
    """The platform's first placement (in ``platform_rules.PLACEMENTS`` order: the main
    feed first) that takes ``count`` files of these kinds; None when none does."""
    for where in platform_rules.placements(platform):
        if count <= where.max_items and all(where.rule_for(kind) for kind in kinds):
            return where.name
    return None


def derivative_variant(key: str) -> str:
    """The storage variant (``[a-z0-9_-]``, at most 64) of a derivative key: the key itself
    with its dots as underscores, or a digest of it when that is too long."""
    variant = _VARIANT_UNSAFE.sub("_", key.lower())
    if len(variant) <= _MAX_VARIANT:
        return variant
    return "d_" + hashlib.sha256(key.encode()).hexdigest()[:40]


async def _derivative_row(
    session: AsyncSession, agency_id: uuid.UUID, sha256: str, key: str
) -> StoredDerivative | None:
    row = (
        await session.execute(
            select(MediaDerivative.storage_key, MediaDerivative.facts).where(
                MediaDerivative.agency_id == agency_id,
                MediaDerivative.sha256 == sha256,
                MediaDerivative.key == key,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return StoredDerivative(row.storage_key, MediaFacts.from_json(row.facts))


async def _derivative_rows(
    session: AsyncSession, agency_id: uuid.UUID, sha256: str, keys: Sequence[str]
) -> dict[str, StoredDerivative]:
    rows = await session.execute(
        select(MediaDerivative.key, MediaDerivative.storage_key, MediaDerivative.facts).where(
            MediaDerivative.agency_id == agency_id,
            MediaDerivative.sha256 == sha256,
            MediaDerivative.key.in_(list(keys)),
        )
    )
    return {
        key: StoredDerivative(storage_key, MediaFacts.from_json(facts))
        for key, storage_key, facts in rows
    }


async def _blob(session: AsyncSession, agency_id: uuid.UUID, sha256: str) -> MediaBlob:
    blob = (
        await session.execute(
            select(MediaBlob).where(MediaBlob.agency_id == agency_id, MediaBlob.sha256 == sha256)
        )
    ).scalar_one_or_none()
    if blob is None:
        raise BlobNotFound(f"no processed media {sha256[:12]}… in this agency")
    return blob


async def _ready_media(
    session: AsyncSession, agency_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Media, MediaBlob]]:
    """The media and their blobs in one statement; ``MediaUnavailable`` for any that cannot
    be sent."""
    found = (
        await session.execute(
            select(Media, MediaBlob)
            .outerjoin(
                MediaBlob,
                (MediaBlob.agency_id == Media.agency_id) & (MediaBlob.sha256 == Media.sha256),
            )
            .where(Media.agency_id == agency_id, Media.id.in_(list(set(media_ids))))
        )
    ).all()
    rows = {media.id: (media, blob) for media, blob in found}
    reasons: dict[uuid.UUID, str] = {}
    for media_id in media_ids:
        if media_id not in rows:
            reasons[media_id] = "not found"
            continue
        media, blob = rows[media_id]
        if media.deleted_at is not None:
            reasons[media_id] = "deleted"
        elif media.status != "ready" or blob is None:
            reasons[media_id] = media.status
    if reasons:
        raise MediaUnavailable(reasons)
    return rows


async def prepare_platform_copies(
    db: Database,
    storage: Storage,
    agency_id: uuid.UUID,
    media_id: uuid.UUID,
    platforms: Sequence[str] = PLATFORM_NAMES,
    *,
    workdir: Path | None = None,
) -> int:
    """Every platform's copy of a ready photo, made once right after processing (one
    download, one decode per scale: ``get_or_make_all``), with its focal point, so that
    publishing finds them made. Returns how many there are; a video's or a GIF's copies are
    made when a post asks (covers, or the file as it is)."""
    async with db.sessionmaker() as session, session.begin():
        await set_tenant(session, agency_id)
        media = await session.get(Media, (agency_id, media_id))
        if media is None or media.status != "ready" or media.sha256 is None:
            return 0
        blob = await _blob(session, agency_id, media.sha256)
        if MediaKind(blob.kind) is not MediaKind.IMAGE:
            return 0
        targets = derivatives.targets_for(platforms, MediaKind.IMAGE)
        focal = FocalPoint(media.focal_x, media.focal_y)
        made = await get_or_make_all(
            session, storage, agency_id, blob.sha256, targets, focal, workdir=workdir
        )
    return len(made)
