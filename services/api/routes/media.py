"""The media library's API (issue #17): upload (one request, multipart, streamed to storage),
list and search, read with signed links, edit, usage, delete with a grace period and restore,
folders, and the plan's storage. Resumable uploads of large files: ``media_uploads``."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, status

from services.api.deps import (
    DEFAULT_PAGE_SIZE,
    CurrentPrincipal,
    Cursor,
    Limit,
    Redis,
    Session,
    SettingsDep,
)
from services.api.listing import Include, sort_by, wants_total
from services.api.media_form import MediaForm
from services.api.problems import problems
from services.api.routes.media_files import MediaSigner, MediaStorage
from shared import clock
from shared.access.policy import reach
from shared.access.principal import Principal
from shared.billing import entitlements
from shared.config import Settings
from shared.db.tenancy import set_tenant
from shared.errors import FieldProblem, Forbidden, ValidationFailed
from shared.media import service
from shared.media.facts import MediaType
from shared.media.schemas import (
    FocalPoint,
    FolderOut,
    MediaFactsOut,
    MediaLinks,
    MediaOut,
    MediaUpdate,
    MediaUsageOut,
    MediaUse,
    StorageOut,
)
from shared.media.signing import MediaUrlSigner
from shared.media.sniff import ACCEPTED_DESCRIPTION
from shared.pagination import Page

router = APIRouter(prefix="/v1", tags=["media"])

FAILURES = {
    "unsupported_type": "the file is not a type Chorus takes",
    "corrupt": "the file is damaged or cut short",
    "too_many_pixels": "the image has more pixels than Chorus takes",
    "too_many_frames": "the animation has more frames than Chorus takes",
    "unsupported_codec": "the video's codecs are not H.264/HEVC with AAC",
    "no_video": "the file holds no video stream",
}


def media_out(
    settings: Settings,
    signer: MediaUrlSigner,
    row: service.MediaRow,
    *,
    now: datetime | None = None,
) -> MediaOut:
    media, blob = row.media, row.blob
    now = now or clock.now()
    links = MediaLinks(file=None, poster=None, expires_at=None)
    if blob is not None and media.status == "ready" and media.deleted_at is None:
        ttl = settings.media_url_ttl_seconds
        expires_at = now + timedelta(seconds=ttl)
        mime = MediaType(blob.media_type).mime
        links = MediaLinks(
            file=_link(settings, signer, media.agency_id, blob.clean_key, mime, expires_at),
            poster=_link(
                settings, signer, media.agency_id, blob.poster_key, "image/jpeg", expires_at
            )
            if blob.poster_key
            else None,
            expires_at=expires_at,
        )
    facts = None
    if blob is not None:
        facts = MediaFactsOut(**{k: blob.facts.get(k) for k in MediaFactsOut.model_fields})
    return MediaOut(
        id=media.id,
        brand_id=media.brand_id,
        location_id=media.location_id,
        name=media.name,
        folder=media.folder,
        tags=list(media.tags),
        status=media.status,
        progress=media.progress,
        failure=media.failure_detail,
        failure_code=media.failure_code,
        kind=blob.kind if blob else None,
        type=blob.media_type if blob else media.upload_type,
        size_bytes=media.upload_size,
        sha256=media.sha256,
        facts=facts,
        focal_point=FocalPoint(x=media.focal_x, y=media.focal_y),
        rights_expire_at=media.rights_expire_at,
        rights_expired=service.rights_expired(media, now),
        uploaded_by=media.uploaded_by,
        created_at=media.created_at,
        updated_at=media.updated_at,
        deleted_at=media.deleted_at,
        purge_after=media.purge_after,
        links=links,
    )


def _link(
    settings: Settings,
    signer: MediaUrlSigner,
    agency_id: uuid.UUID,
    key: str,
    mime: str,
    expires_at: datetime,
) -> str:
    base = (settings.media_public_base_url or settings.public_base_url).rstrip("/")
    return base + signer.sign(agency_id, key, content_type=mime, expires_at=expires_at)


def _may_create_somewhere(principal: Principal) -> None:
    r = reach(principal, "media.create")
    if not (r.everything or r.brand_ids or r.location_ids):
        raise Forbidden(
            "this needs the permission 'media.create', which your role does not grant",
            code="permission_denied",
            extra={"missing_permission": "media.create"},
        )


def _uuid_field(form: MediaForm, name: str) -> uuid.UUID | None:
    value = (form.field(name) or "").strip()
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(
            f"{name}: not an id",
            code="media_invalid",
            errors=[FieldProblem(f"body.{name}", "must be a UUID", "uuid_parsing")],
        ) from None


def _details(form: MediaForm) -> service.MediaDetails:
    name = form.field("name")
    if name is None or not name.strip():
        name = form.file_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or "Untitled"
    tags = [t for value in form.fields.get("tags", []) for t in value.split(",")]
    return service.MediaDetails(
        name=name[: service.MAX_NAME] if form.field("name") is None else name,
        brand_id=_uuid_field(form, "brand_id"),
        location_id=_uuid_field(form, "location_id"),
        folder=form.field("folder") or "",
        tags=tuple(tags),
    )


@router.post(
    "/media",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Upload a photo or video (multipart); the worker then checks and prepares it",
    description="A `multipart/form-data` body with one `file` part and, optionally, `name` "
    "(default: the file's name), `brand_id` (the brand's shared library), `location_id` (one "
    "location's own), `folder` (`Summer/2026`) and `tags` (comma-separated or repeated). "
    "Neither id: the agency's library. The type is read from the file's bytes: "
    f"{ACCEPTED_DESCRIPTION}; anything else is a 415 naming them. At most "
    "`media_max_upload_bytes` (200 MiB by default) per request: larger files go as a "
    "resumable upload (`POST /v1/media/uploads`, tus). The answer is the media with status "
    "`processing`; `GET /v1/media/{id}` shows its progress, then `ready` (with its facts and "
    "signed links) or `failed` (with why). The bytes as uploaded are never served: what is "
    "served is upright, with EXIF, GPS and every other metadata removed.",
    responses=problems(400, 401, 402, 403, 404, 413, 415, 422),
    openapi_extra={
        "x-permission": "media.create",
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string", "maxLength": 200},
                            "brand_id": {"type": "string", "format": "uuid"},
                            "location_id": {"type": "string", "format": "uuid"},
                            "folder": {"type": "string", "maxLength": 200},
                            "tags": {"type": "string"},
                        },
                    }
                }
            },
        },
    },
)
async def upload_media(
    request: Request,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    storage: MediaStorage,
    signer: MediaSigner,
) -> MediaOut:
    _may_create_somewhere(principal)
    declared = int(request.headers.get("content-length") or 0)
    service.check_size(declared - 64 * 1024, settings.media_max_upload_bytes)
    await service.require_storage(session, settings, principal.agency_id, 0)
    form = MediaForm(
        request.headers.get("content-type", ""), request.stream(), settings.media_max_upload_bytes
    )
    # No transaction (nor pooled connection) is held while the body arrives.
    await session.commit()
    key = service.upload_key(principal.agency_id, uuid.uuid4())
    try:
        await storage.put(key, form.file_chunks())
        await set_tenant(session, principal.agency_id, principal.user_id)
        details = await service.check_new_media(
            session, settings, principal, _details(form), form.size
        )
        assert form.media_type is not None
        media = await service.register_upload(
            session,
            redis,
            principal,
            details,
            key=key,
            size=form.size,
            media_type=form.media_type.value,
        )
    except BaseException:
        await storage.delete(key)
        raise
    return media_out(settings, signer, service.MediaRow(media, None))


@router.get(
    "/media",
    summary="The media library: search by name, folder, tag, kind, type and size",
    description="Everything you can read, newest first, or one library: `brand_id` (the "
    "brand's shared media), `location_id` (a location's own), `agency=true` (the agency's), "
    "`usable_at_location_id` (what a post of that location may use: the agency's, its "
    "brand's and its own). `folder` includes its sub-folders. `deleted=true` lists what is "
    "deleted and still restorable.",
    responses=problems(400, 401, 403, 404, 422),
    openapi_extra={"x-permission": "media.read"},
)
async def list_media(
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    signer: MediaSigner,
    sort: Annotated[str, Depends(sort_by(service.SORTING))],
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    agency: bool = False,
    usable_at_location_id: uuid.UUID | None = None,
    folder: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    kind: Literal["image", "video", "gif"] | None = None,
    type: Annotated[
        Literal["jpeg", "png", "webp", "heic", "gif", "mp4", "mov"] | None, Query()
    ] = None,
    media_status: Annotated[
        Literal["processing", "ready", "failed"] | None, Query(alias="status")
    ] = None,
    min_size: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    max_size: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    deleted: bool = False,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[MediaOut]:
    f = service.MediaFilter(
        brand_id=brand_id,
        location_id=location_id,
        agency_only=agency,
        usable_at_location=usable_at_location_id,
        folder=service.clean_folder(folder, "query.folder") if folder is not None else None,
        tag=tag,
        q=q,
        kind=kind,
        type=type,
        status=media_status,
        min_size=min_size,
        max_size=max_size,
        deleted=deleted,
    )
    page = await service.list_media(
        session, principal, f, sort=sort, limit=limit, cursor=cursor, total=wants_total(include)
    )
    now = clock.now()
    return Page[MediaOut](
        items=[media_out(settings, signer, row, now=now) for row in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/media-folders",
    summary="The library's folders with how many media each holds",
    responses=problems(400, 401, 403, 404, 422),
    openapi_extra={"x-permission": "media.read"},
)
async def list_folders(
    session: Session,
    principal: CurrentPrincipal,
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    agency: bool = False,
    usable_at_location_id: uuid.UUID | None = None,
) -> list[FolderOut]:
    f = service.MediaFilter(
        brand_id=brand_id,
        location_id=location_id,
        agency_only=agency,
        usable_at_location=usable_at_location_id,
    )
    return [
        FolderOut(folder=name, count=n) for name, n in await service.folders(session, principal, f)
    ]


@router.get(
    "/media-storage",
    summary="How much of the plan's media storage is used",
    responses=problems(401, 403),
    openapi_extra={"x-permission": "media.read"},
)
async def storage_use(
    session: Session, settings: SettingsDep, principal: CurrentPrincipal
) -> StorageOut:
    r = reach(principal, "media.read")
    if not (r.everything or r.brand_ids or r.location_ids):
        raise Forbidden(
            "this needs the permission 'media.read', which your role does not grant",
            code="permission_denied",
            extra={"missing_permission": "media.read"},
        )
    current = await entitlements.standing(session, settings, principal.agency_id)
    return StorageOut(
        used_bytes=await service.storage_used(session, principal.agency_id),
        limit_bytes=current.plan.storage_bytes,
        plan=current.plan.code,
    )


@router.get(
    "/media/{media_id}",
    summary="A media: its processing, facts, signed links and rights",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "media.read"},
)
async def get_media(
    media_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    signer: MediaSigner,
) -> MediaOut:
    row = await service.get_media(session, principal, media_id, deleted=True)
    return media_out(settings, signer, row)


@router.patch(
    "/media/{media_id}",
    summary="Rename, file, tag, set the focal point or the usage rights' expiry",
    description='`focal_point` steers every platform\'s crop (`{"x": 0.5, "y": 0.3}`: the '
    "middle, a third from the top). After `rights_expire_at`, a post using this media is not "
    "published: it fails saying so, and its location is told.",
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "media.update"},
)
async def update_media(
    media_id: uuid.UUID,
    data: Annotated[MediaUpdate, Body()],
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    signer: MediaSigner,
) -> MediaOut:
    changes = data.model_dump(exclude_unset=True)
    row = await service.update_media(session, principal, media_id, changes)
    return media_out(settings, signer, row)


@router.get(
    "/media/{media_id}/usage",
    summary="Where a media is used: posts not yet ended, template versions",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "media.read"},
)
async def media_usage(
    media_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> MediaUsageOut:
    waiting, uses = await service.usage(session, principal, media_id)
    return MediaUsageOut(
        media_id=media_id, posts_not_ended=waiting, uses=[MediaUse(**u) for u in uses]
    )


@router.delete(
    "/media/{media_id}",
    summary="Delete a media (refused while a post not yet ended uses it)",
    description="Hidden at once, removed from storage after the grace period "
    "(`media_delete_grace_seconds`, 7 days by default); `POST /v1/media/{id}/restore` "
    "brings it back until then.",
    responses=problems(401, 403, 404, 409),
    openapi_extra={"x-permission": "media.delete"},
)
async def delete_media(
    media_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    signer: MediaSigner,
) -> MediaOut:
    row = await service.delete_media(session, settings, principal, media_id)
    return media_out(settings, signer, row)


@router.post(
    "/media/{media_id}/restore",
    summary="Bring back a deleted media during its grace period",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "media.delete"},
)
async def restore_media(
    media_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    signer: MediaSigner,
) -> MediaOut:
    row = await service.restore_media(session, principal, media_id)
    return media_out(settings, signer, row)
