"""Media items that name a library media by ``media_id`` (issue #17): checked when content is
saved, and read as facts for the content checks of previews, local posts and fan-out.

On save every item must be usable by its owner and the caller, or the save is a 422 naming
each problem's field (``body.media.instagram.0.media_id``):

- the id is a media of this agency's library, not deleted;
- the caller may read it (another agency's, or one out of reach, reads as unknown: nothing
  about it is said);
- the owner may use it: agency media anywhere; a brand's shared media in that brand's
  templates and posts; a location's own media only in that location's posts;
- it is ``ready``: one still ``processing`` asks to wait, a ``failed`` one says why;
- its kind is the item's ``kind``.

The existing ``url`` form keeps working; an item gives one of ``url`` and ``media_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.policy import Target, allowed
from shared.access.principal import Principal
from shared.content.library_media import LibraryFile
from shared.errors import FieldProblem, ValidationFailed
from shared.media.derivatives import FocalPoint
from shared.media.facts import MediaFacts
from shared.media.models import Media, MediaBlob
from shared.templates.schemas import MediaIn


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose content names the media: a brand's template or campaign (no location), or one
    location's post."""

    brand_id: uuid.UUID
    location_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Found:
    media: Media
    blob: MediaBlob | None


def parse_id(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def ids_of(items: Iterable[Mapping[str, object] | MediaIn]) -> list[uuid.UUID]:
    """The library ids named by stored items (JSON) or schema items, in order, once each."""
    found: dict[uuid.UUID, None] = {}
    for item in items:
        raw = item.media_id if isinstance(item, MediaIn) else item.get("media_id")
        media_id = parse_id(raw if isinstance(raw, str) else None)
        if media_id is not None:
            found[media_id] = None
    return list(found)


async def load(
    session: AsyncSession, agency_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Found]:
    """The media of this agency among ``ids`` (deleted ones too) with their blobs, in one
    statement."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Media, MediaBlob)
        .outerjoin(
            MediaBlob,
            (MediaBlob.agency_id == Media.agency_id) & (MediaBlob.sha256 == Media.sha256),
        )
        .where(Media.agency_id == agency_id, Media.id.in_(list(set(ids))))
    )
    return {media.id: Found(media, blob) for media, blob in rows.all()}


def library_file(found: Found) -> LibraryFile:
    media, blob = found.media, found.blob
    assert blob is not None
    return LibraryFile(
        media_id=media.id,
        name=media.name,
        facts=MediaFacts.from_json(blob.facts),
        focal=FocalPoint(media.focal_x, media.focal_y),
        has_poster=blob.poster_key is not None,
    )


def unavailable(found: Found | None) -> str | None:
    """Why the media cannot be sent (None: it can): unknown, deleted, processing, failed."""
    if found is None:
        return "is not in this agency's media library"
    media = found.media
    if media.deleted_at is not None:
        return f"“{media.name}” was deleted from the media library"
    if media.status == "processing" or (media.status == "ready" and found.blob is None):
        return (
            f"“{media.name}” is still being processed ({media.progress}%); wait until it is ready"
        )
    if media.status == "failed":
        detail = media.failure_detail or media.failure_code or "no reason recorded"
        return f"“{media.name}” could not be processed: {detail}; upload another file"
    return None


def _usable(media: Media, owner: Owner) -> bool:
    if media.brand_id is None:
        return media.location_id is None  # agency media: every brand's
    if media.brand_id != owner.brand_id:
        return False
    return media.location_id is None or media.location_id == owner.location_id


async def check_references(
    session: AsyncSession,
    principal: Principal,
    media: Mapping[str, Sequence[MediaIn]],
    owner: Owner,
    prefix: str = "body.media",
) -> dict[uuid.UUID, LibraryFile]:
    """The library files the items name, or a 422 listing every problem by field."""
    problems: list[FieldProblem] = []
    wanted: list[tuple[str, MediaIn, uuid.UUID]] = []
    for key, items in media.items():
        for index, item in enumerate(items):
            field = f"{prefix}.{key}.{index}"
            if item.media_id is None:
                if item.url is None:
                    problems.append(
                        FieldProblem(
                            f"{field}.url",
                            "give the file's url, or the media_id of a file in the media library",
                            "media_missing",
                        )
                    )
                continue
            if item.url is not None:
                problems.append(
                    FieldProblem(
                        f"{field}.media_id",
                        "give either a url or a media_id, not both",
                        "media_ambiguous",
                    )
                )
                continue
            media_id = parse_id(item.media_id)
            if media_id is None:
                problems.append(
                    FieldProblem(
                        f"{field}.media_id",
                        "is not a media id; use the id of a file in the media library "
                        "(GET /v1/media)",
                        "media_id_invalid",
                    )
                )
                continue
            wanted.append((field, item, media_id))
    rows = await load(session, principal.agency_id, [media_id for _, _, media_id in wanted])
    files: dict[uuid.UUID, LibraryFile] = {}
    for field, item, media_id in wanted:
        problem = _problem(principal, rows.get(media_id), item, owner)
        if problem is not None:
            problems.append(FieldProblem(f"{field}.{problem[0]}", problem[1], problem[2]))
        else:
            files[media_id] = library_file(rows[media_id])
    if problems:
        raise ValidationFailed(
            f"{len(problems)} media problem(s); first: {problems[0].field}: {problems[0].message}",
            code="media_invalid",
            errors=problems,
        )
    return files


def _problem(
    principal: Principal, found: Found | None, item: MediaIn, owner: Owner
) -> tuple[str, str, str] | None:
    """(field suffix, message, code) of the first problem, or None."""
    if found is not None:
        target = Target(brand_id=found.media.brand_id, location_id=found.media.location_id)
        if not allowed(principal, "media.read", target):
            found = None  # out of reach reads as unknown: nothing about it is said
    if found is None or found.media.deleted_at is not None:
        why = unavailable(found) if found is not None else None
        return ("media_id", why or "is not in this agency's media library", "media_not_found")
    media = found.media
    if not _usable(media, owner):
        where = "one location's own library" if media.location_id else "another brand's library"
        return (
            "media_id",
            f"“{media.name}” is in {where} and cannot be used here; use this brand's or the "
            "agency's media" + (" or the location's own" if owner.location_id is not None else ""),
            "media_not_usable",
        )
    why = unavailable(found)
    if why is not None:
        code = "media_processing" if media.status != "failed" else "media_failed"
        return ("media_id", why, code)
    assert found.blob is not None
    if found.blob.kind != item.kind:
        return (
            "kind",
            f"“{media.name}” is a {found.blob.kind}, not a {item.kind}; set kind to "
            f"{found.blob.kind}",
            "media_kind",
        )
    return None


async def files_of(
    session: AsyncSession, agency_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, LibraryFile], dict[uuid.UUID, str]]:
    """The ready files among ``ids``, and for the others why they cannot be sent (for checks
    that report rather than refuse: previews, fan-out)."""
    rows = await load(session, agency_id, ids)
    files: dict[uuid.UUID, LibraryFile] = {}
    reasons: dict[uuid.UUID, str] = {}
    for media_id in ids:
        found = rows.get(media_id)
        why = unavailable(found)
        if why is None and found is not None:
            files[media_id] = library_file(found)
        else:
            reasons[media_id] = why or "is not in this agency's media library"
    return files, reasons
