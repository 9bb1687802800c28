"""The media library (issue #17): new media (checked before any byte is kept, registered once
the bytes are in storage, processed by the worker), the library's listing and search, edits,
where a file is used, delete with a grace period, and the plan's storage.

Who may do what: ``media.read`` / ``media.create`` / ``media.update`` / ``media.delete`` on
the media's owner: the agency (both ids empty), a brand (shared with its locations, which may
read it), or one location. Another agency's media, and media out of the caller's reach, are
404.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import ColumnElement, Select, and_, any_, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, JSONPATH
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access.policy import Target, authorize, reach
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.billing import entitlements
from shared.billing.errors import PaymentRequired
from shared.billing.plans import plan_with
from shared.brands.models import Brand
from shared.config import Settings
from shared.db.hooks import after_commit
from shared.errors import Conflict, FieldProblem, NotFound, PayloadTooLarge, ValidationFailed
from shared.jobs import enqueue
from shared.locations.models import Location
from shared.media.models import Media, MediaBlob
from shared.pagination import Slice, Sorting, sorted_page
from shared.posts.models import Post
from shared.templates.models import Template, TemplateVersion
from shared.tenancy import scoped

PROCESS_JOB = "media.process"
MAX_NAME = 200
MAX_FOLDER = 200
MAX_TAGS = 20
MAX_TAG = 50
NOT_ENDED = (
    "draft",
    "needs_approval",
    "approved",
    "scheduled",
    "queued",
    "publishing",
    "unconfirmed",
)
"""Posts that may still go out (``ix_post_media_in_use`` covers exactly these)."""

SORTING = Sorting(
    default="-created",
    fields={"created": Media.created_at, "name": Media.name},
    tiebreak=Media.id,
)


@dataclass(frozen=True, slots=True)
class MediaDetails:
    """What a new media will be (``check_new_media`` cleans and checks it)."""

    name: str
    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    folder: str = ""
    tags: tuple[str, ...] = ()


def upload_key(agency_id: uuid.UUID, upload_id: uuid.UUID) -> str:
    """Where uploaded bytes wait for the worker (never served, removed once processed)."""
    return f"agencies/{agency_id}/uploads/{upload_id}"


# Checking text ------------------------------------------------------------------------------


def _unsafe(text: str) -> bool:
    """NUL and other control characters (tabs and newlines too: names are one line)."""
    return any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\u200d" for c in text)


def clean_name(value: str, field: str = "name") -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise _invalid(field, "give the media a name (1-200 characters)", "name_missing")
    if len(name) > MAX_NAME:
        raise _invalid(field, f"at most {MAX_NAME} characters (this has {len(name)})", "too_long")
    if _unsafe(name):
        raise _invalid(field, "must not hold control characters (NUL, tabs, new lines)", "control")
    return name


def clean_folder(value: str, field: str = "folder") -> str:
    """``Summer/2026`` style: segments joined by ``/``, blanks and empty segments dropped."""
    parts = [p.strip() for p in unicodedata.normalize("NFC", value).split("/")]
    folder = "/".join(p for p in parts if p)
    if len(folder) > MAX_FOLDER:
        raise _invalid(field, f"at most {MAX_FOLDER} characters", "too_long")
    if _unsafe(folder):
        raise _invalid(field, "must not hold control characters (NUL, tabs, new lines)", "control")
    return folder


def clean_tags(values: list[str] | tuple[str, ...], field: str = "tags") -> tuple[str, ...]:
    """Each tag trimmed and lower-cased (``Summer`` and ``summer`` are one tag), once."""
    out: list[str] = []
    for index, value in enumerate(values):
        tag = unicodedata.normalize("NFC", value).strip().casefold()
        if not tag:
            continue
        if len(tag) > MAX_TAG or "," in tag or _unsafe(tag):
            raise _invalid(
                f"{field}.{index}",
                f"a tag is 1-{MAX_TAG} characters without commas or control characters",
                "invalid_tag",
            )
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise _invalid(field, f"at most {MAX_TAGS} tags (this has {len(out)})", "too_many")
    return tuple(out)


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code="media_invalid", errors=[FieldProblem(field, message, code)]
    )


# New media ----------------------------------------------------------------------------------


async def _owner(
    session: AsyncSession, principal: Principal, details: MediaDetails, prefix: str
) -> MediaDetails:
    """The owner as given, with a location's brand filled in; 404 for one not in the agency."""
    if details.location_id is not None:
        brand_id = (
            await session.execute(
                select(Location.brand_id).where(
                    Location.agency_id == principal.agency_id, Location.id == details.location_id
                )
            )
        ).scalar_one_or_none()
        if brand_id is None or (details.brand_id not in (None, brand_id)):
            raise NotFound("location not found", errors=[_missing(f"{prefix}location_id")])
        return replace(details, brand_id=brand_id)
    if details.brand_id is not None:
        found = (
            await session.execute(
                select(Brand.id).where(
                    Brand.agency_id == principal.agency_id, Brand.id == details.brand_id
                )
            )
        ).scalar_one_or_none()
        if found is None:
            raise NotFound("brand not found", errors=[_missing(f"{prefix}brand_id")])
    return details


def _missing(field: str) -> FieldProblem:
    return FieldProblem(field, "no such brand or location in this agency", "not_found")


def target_of(brand_id: uuid.UUID | None, location_id: uuid.UUID | None) -> Target:
    return Target(brand_id=brand_id, location_id=location_id)


async def storage_used(session: AsyncSession, agency_id: uuid.UUID) -> int:
    """Each distinct processed file once, and what waits to be processed."""
    blobs = select(func.coalesce(func.sum(MediaBlob.size_bytes), 0)).where(
        MediaBlob.agency_id == agency_id
    )
    waiting = select(func.coalesce(func.sum(Media.upload_size), 0)).where(
        Media.agency_id == agency_id, Media.status == "processing"
    )
    used = await session.execute(select(blobs.scalar_subquery() + waiting.scalar_subquery()))
    return int(used.scalar_one())


async def require_storage(
    session: AsyncSession, settings: Settings | None, agency_id: uuid.UUID, adding: int
) -> None:
    """402 naming the plan and its limit when ``adding`` more bytes would not fit."""
    current = await entitlements.standing(session, settings, agency_id)
    entitlements.require_writable(current)
    limit = current.plan.storage_bytes
    if limit is None:
        return
    used = await storage_used(session, agency_id)
    if used + adding <= limit:
        return
    upgrade = plan_with(storage=used + adding)
    raise PaymentRequired(
        f"the {current.plan_label} plan holds {_gib(limit)} of media; {_gib(used)} is used and "
        f"this file needs {_size(adding)} more"
        + (f" (the {upgrade.name} plan holds more)" if upgrade else "")
        + f"; delete media you no longer need, or {entitlements.UPGRADE_HOW}",
        code="plan_storage_full",
        extra={
            "plan": current.plan.code,
            "limit_bytes": limit,
            "used_bytes": used,
            "upgrade_to": upgrade.code if upgrade else None,
        },
    )


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB"


def _size(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB" if n >= 1024**2 else f"{n} bytes"


async def check_new_media(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    details: MediaDetails,
    size: int,
    *,
    max_bytes: int | None = None,
    prefix: str = "body.",
) -> MediaDetails:
    """The details cleaned and checked before any byte is kept: who may add media there
    (404/403), the owner exists in the agency (404), the size (413) and the plan's storage
    (402)."""
    cleaned = replace(
        details,
        name=clean_name(details.name, f"{prefix}name"),
        folder=clean_folder(details.folder, f"{prefix}folder"),
        tags=clean_tags(details.tags, f"{prefix}tags"),
    )
    authorize(
        principal,
        "media.create",
        target_of(cleaned.brand_id, cleaned.location_id),
        object_type="location" if cleaned.location_id else "brand" if cleaned.brand_id else None,
    )
    cleaned = await _owner(session, principal, cleaned, prefix)
    authorize(principal, "media.create", target_of(cleaned.brand_id, cleaned.location_id))
    check_size(size, max_bytes if max_bytes is not None else settings.media_max_upload_bytes)
    await require_storage(session, settings, principal.agency_id, size)
    return cleaned


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise PayloadTooLarge(
            f"the file is {_size(size)}; at most {_size(max_bytes)} in one request: send larger "
            "files as a resumable upload (POST /v1/media/uploads, the tus protocol)",
            code="media_too_large",
            extra={"max_bytes": max_bytes, "size_bytes": size},
        )


async def register_upload(
    session: AsyncSession,
    redis: ArqRedis | None,
    principal: Principal,
    details: MediaDetails,
    *,
    key: str,
    size: int,
    media_type: str,
) -> Media:
    """The media for bytes now at ``key``: status ``processing``; the worker's job is
    enqueued once this transaction commits (a lost job is re-enqueued by its sweep)."""
    media = Media(
        agency_id=principal.agency_id,
        id=uuid.uuid4(),
        brand_id=details.brand_id,
        location_id=details.location_id,
        name=details.name,
        folder=details.folder,
        tags=list(details.tags),
        status="processing",
        progress=0,
        upload_key=key,
        upload_size=size,
        upload_type=media_type,
        uploaded_by=principal.user_id,
    )
    session.add(media)
    await session.flush()
    await session.refresh(media)
    audit.record_by(
        session,
        principal,
        action="media.create",
        object_type="media",
        object_id=media.id,
        after={"name": media.name, "size_bytes": size, "type": media_type},
    )
    if redis is not None:
        agency_id, media_id = principal.agency_id, media.id

        async def _enqueue() -> None:
            await enqueue_processing(redis, agency_id, media_id)

        after_commit(session, _enqueue)
    return media


async def enqueue_processing(redis: ArqRedis, agency_id: uuid.UUID, media_id: uuid.UUID) -> None:
    """One job per media: while it is queued or running, nothing enqueues another."""
    await enqueue(redis, PROCESS_JOB, str(agency_id), str(media_id), job_id=f"media:{media_id}")


# Reading ------------------------------------------------------------------------------------

_UUIDS = ARRAY(PG_UUID(as_uuid=True))


def _visible(principal: Principal, action: str = "media.read") -> ColumnElement[bool]:
    """Media the principal reaches: everything with an agency grant; a brand grant's brand
    (and its locations'); a location grant's location, and its brand's shared media."""
    r = reach(principal, action)
    if r.everything:
        return true()
    brands = list(r.brand_ids)
    locations = list(r.location_ids)
    shared = list(r.location_brand_ids) if action == "media.read" else []
    return or_(
        Media.brand_id == any_(literal(brands, _UUIDS)),
        Media.location_id == any_(literal(locations, _UUIDS)),
        and_(Media.location_id.is_(None), Media.brand_id == any_(literal(shared, _UUIDS))),
    )


@dataclass(frozen=True, slots=True)
class MediaFilter:
    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    agency_only: bool = False
    usable_at_location: uuid.UUID | None = None
    folder: str | None = None
    tag: str | None = None
    q: str | None = None
    kind: str | None = None
    type: str | None = None
    status: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    deleted: bool = False


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filtered(
    principal: Principal, f: MediaFilter, location_brand: uuid.UUID | None
) -> Select[Any]:
    stmt = (
        scoped(Media, principal)
        .outerjoin(
            MediaBlob,
            and_(MediaBlob.agency_id == Media.agency_id, MediaBlob.sha256 == Media.sha256),
        )
        .where(_visible(principal))
        .where(Media.deleted_at.is_not(None) if f.deleted else Media.deleted_at.is_(None))
    )
    if f.agency_only:
        stmt = stmt.where(Media.brand_id.is_(None))
    if f.brand_id is not None:
        stmt = stmt.where(Media.brand_id == f.brand_id, Media.location_id.is_(None))
    if f.location_id is not None:
        stmt = stmt.where(Media.location_id == f.location_id)
    if f.usable_at_location is not None:
        stmt = stmt.where(
            or_(
                Media.brand_id.is_(None),
                and_(Media.brand_id == location_brand, Media.location_id.is_(None)),
                Media.location_id == f.usable_at_location,
            )
        )
    if f.folder is not None:
        stmt = stmt.where(
            or_(Media.folder == f.folder, Media.folder.like(f.folder.replace("%", "\\%") + "/%"))
            if f.folder
            else true()
        )
    if f.tag is not None:
        stmt = stmt.where(literal(f.tag.strip().casefold()) == any_(Media.tags))
    if f.q:
        stmt = stmt.where(Media.name.ilike(_like(f.q), escape="\\"))
    if f.kind is not None:
        stmt = stmt.where(MediaBlob.kind == f.kind)
    if f.type is not None:
        stmt = stmt.where(func.coalesce(MediaBlob.media_type, Media.upload_type) == f.type)
    if f.status is not None:
        stmt = stmt.where(Media.status == f.status)
    if f.min_size is not None:
        stmt = stmt.where(Media.upload_size >= f.min_size)
    if f.max_size is not None:
        stmt = stmt.where(Media.upload_size <= f.max_size)
    return stmt


@dataclass(frozen=True, slots=True)
class MediaRow:
    media: Media
    blob: MediaBlob | None


async def list_media(
    session: AsyncSession,
    principal: Principal,
    f: MediaFilter,
    *,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[MediaRow]:
    location_brand = await _location_brand(session, principal, f)
    stmt = _filtered(principal, f, location_brand).with_only_columns(Media)
    page = await sorted_page(
        session, stmt, SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )
    blobs = await _blobs(session, principal.agency_id, [m.sha256 for m in page.items if m.sha256])
    rows = [MediaRow(m, blobs.get(m.sha256) if m.sha256 else None) for m in page.items]
    return Slice(rows, page.next_cursor, page.total)


async def _location_brand(
    session: AsyncSession, principal: Principal, f: MediaFilter
) -> uuid.UUID | None:
    """For ``usable_at_location``: that location's brand (its shared media are usable there);
    404 for a location out of reach."""
    if f.usable_at_location is None:
        return None
    location_brand = (
        await session.execute(
            select(Location.brand_id).where(
                Location.agency_id == principal.agency_id,
                Location.id == f.usable_at_location,
            )
        )
    ).scalar_one_or_none()
    if location_brand is None:
        raise NotFound("location not found", errors=[_missing("query.usable_at_location_id")])
    authorize(principal, "media.read", target_of(location_brand, f.usable_at_location))
    return location_brand


async def _blobs(
    session: AsyncSession, agency_id: uuid.UUID, shas: list[str]
) -> dict[str, MediaBlob]:
    if not shas:
        return {}
    found = await session.execute(
        select(MediaBlob).where(MediaBlob.agency_id == agency_id, MediaBlob.sha256.in_(shas))
    )
    return {b.sha256: b for b in found.scalars()}


async def get_media(
    session: AsyncSession,
    principal: Principal,
    media_id: uuid.UUID,
    action: str = "media.read",
    *,
    lock: bool = False,
    deleted: bool = False,
) -> MediaRow:
    """The media if the principal may ``action`` it; 404 otherwise (out of reach, another
    agency's, or deleted unless ``deleted``)."""
    stmt = scoped(Media, principal).where(Media.id == media_id)
    if lock:
        stmt = stmt.with_for_update()
    media = (await session.execute(stmt)).scalar_one_or_none()
    if media is None or (media.deleted_at is not None and not deleted):
        raise NotFound("media not found")
    authorize(principal, action, target_of(media.brand_id, media.location_id), object_type="media")
    blob = None
    if media.sha256:
        blob = (await _blobs(session, principal.agency_id, [media.sha256])).get(media.sha256)
    return MediaRow(media, blob)


# Editing -------------------------------------------------------------------------------------


async def update_media(
    session: AsyncSession, principal: Principal, media_id: uuid.UUID, changes: dict[str, Any]
) -> MediaRow:
    """Name, folder, tags, focal point, rights expiry (``changes`` holds only what was sent)."""
    row = await get_media(session, principal, media_id, "media.update", lock=True)
    media = row.media
    before = {
        "name": media.name,
        "folder": media.folder,
        "tags": list(media.tags),
        "focal_point": [media.focal_x, media.focal_y],
        "rights_expire_at": media.rights_expire_at.isoformat() if media.rights_expire_at else None,
    }
    if "name" in changes:
        if changes["name"] is None:
            raise _invalid("body.name", "a media keeps a name; give one", "name_missing")
        media.name = clean_name(changes["name"], "body.name")
    if "folder" in changes:
        media.folder = clean_folder(changes["folder"] or "", "body.folder")
    if "tags" in changes:
        media.tags = list(clean_tags(changes["tags"] or [], "body.tags"))
    if "focal_point" in changes:
        point = changes["focal_point"] or {"x": 0.5, "y": 0.5}
        media.focal_x, media.focal_y = float(point["x"]), float(point["y"])
    if "rights_expire_at" in changes:
        media.rights_expire_at = changes["rights_expire_at"]
    await session.flush()
    await session.refresh(media)
    after = {
        "name": media.name,
        "folder": media.folder,
        "tags": list(media.tags),
        "focal_point": [media.focal_x, media.focal_y],
        "rights_expire_at": media.rights_expire_at.isoformat() if media.rights_expire_at else None,
    }
    audit.record_by(
        session,
        principal,
        action="media.update",
        object_type="media",
        object_id=media.id,
        before={k: v for k, v in before.items() if after[k] != v},
        after={k: v for k, v in after.items() if before[k] != v},
    )
    return row


# Where it is used --------------------------------------------------------------------------


def _names_media(media_id: uuid.UUID) -> ColumnElement[bool]:
    """``post.media`` (a JSON list) holds an item naming the media (the GIN index's shape)."""
    return Post.media.op("@>")(literal([{"media_id": str(media_id)}], JSONB))


async def posts_not_ended(session: AsyncSession, agency_id: uuid.UUID, media_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        Post.agency_id == agency_id, Post.status.in_(NOT_ENDED), _names_media(media_id)
    )
    return int((await session.execute(stmt)).scalar_one())


async def usage(
    session: AsyncSession, principal: Principal, media_id: uuid.UUID, *, limit: int = 100
) -> tuple[int, list[dict[str, Any]]]:
    """How many posts not yet ended use it, and the uses: those posts (soonest first) and the
    template versions naming it."""
    row = await get_media(session, principal, media_id, deleted=True)
    media = row.media
    posts = (
        await session.execute(
            select(Post.id, Post.status, Post.location_id, Post.platform, Post.scheduled_at)
            .where(
                Post.agency_id == principal.agency_id,
                Post.status.in_(NOT_ENDED),
                _names_media(media.id),
            )
            .order_by(Post.scheduled_at.asc().nulls_first(), Post.id)
            .limit(limit)
        )
    ).all()
    versions = (
        await session.execute(
            select(TemplateVersion.template_id, TemplateVersion.version, Template.brand_id)
            .join(
                Template,
                and_(
                    Template.agency_id == TemplateVersion.agency_id,
                    Template.id == TemplateVersion.template_id,
                ),
            )
            .where(
                TemplateVersion.agency_id == principal.agency_id,
                TemplateVersion.media.op("@?")(
                    literal(f'$.*[*] ? (@.media_id == "{media.id}")', JSONPATH)
                ),
            )
            .order_by(TemplateVersion.template_id, TemplateVersion.version)
            .limit(limit)
        )
    ).all()
    uses: list[dict[str, Any]] = [
        {
            "kind": "post",
            "id": p.id,
            "status": p.status,
            "location_id": p.location_id,
            "platform": p.platform,
            "scheduled_at": p.scheduled_at,
        }
        for p in posts
    ] + [
        {"kind": "template_version", "id": v.template_id, "template_id": v.template_id,
         "version": v.version}
        for v in versions
    ]  # fmt: skip
    return await posts_not_ended(session, principal.agency_id, media.id), uses


# Deleting ------------------------------------------------------------------------------------


async def delete_media(
    session: AsyncSession, settings: Settings, principal: Principal, media_id: uuid.UUID
) -> MediaRow:
    """Refused (409) while a post not yet ended uses it; otherwise hidden at once and removed
    from storage after the grace period (``media_delete_grace_seconds``), unless restored."""
    row = await get_media(session, principal, media_id, "media.delete", lock=True)
    media = row.media
    waiting = await posts_not_ended(session, principal.agency_id, media.id)
    if waiting:
        raise Conflict(
            f"{waiting} post(s) not yet published use this media; change or cancel them "
            f"first (GET /v1/media/{media.id}/usage lists them)",
            code="media_in_use",
            extra={"posts_not_ended": waiting},
        )
    now = clock.now()
    media.deleted_at = now
    media.purge_after = now + timedelta(seconds=settings.media_delete_grace_seconds)
    await session.flush()
    await session.refresh(media)
    audit.record_by(
        session,
        principal,
        action="media.delete",
        object_type="media",
        object_id=media.id,
        before={"name": media.name},
        after={"purge_after": media.purge_after.isoformat()},
    )
    return row


async def restore_media(
    session: AsyncSession, principal: Principal, media_id: uuid.UUID
) -> MediaRow:
    """A deleted media back in the library, while its grace period lasts."""
    row = await get_media(session, principal, media_id, "media.delete", lock=True, deleted=True)
    media = row.media
    if media.deleted_at is None:
        return row
    media.deleted_at = None
    media.purge_after = None
    await session.flush()
    await session.refresh(media)
    audit.record_by(
        session, principal, action="media.restore", object_type="media", object_id=media.id
    )
    return row


# Folders ------------------------------------------------------------------------------------


async def folders(
    session: AsyncSession, principal: Principal, f: MediaFilter
) -> list[tuple[str, int]]:
    location_brand = await _location_brand(session, principal, f)
    stmt = (
        _filtered(principal, replace(f, folder=None), location_brand)
        .with_only_columns(Media.folder, func.count())
        .group_by(Media.folder)
        .order_by(Media.folder)
    )
    return [(str(folder), int(n)) for folder, n in (await session.execute(stmt)).all()]


def rights_expired(media: Media, at: datetime | None = None) -> bool:
    return media.rights_expire_at is not None and media.rights_expire_at <= (at or clock.now())
