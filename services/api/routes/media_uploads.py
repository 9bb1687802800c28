"""Resumable uploads over tus 1.0.0 (core, creation, termination, expiration): the HTTP side
of ``shared.media.resumable`` (why tus, and how bytes are kept, are told there).

- ``OPTIONS /v1/media/uploads``: what this server speaks (no credentials needed).
- ``POST /v1/media/uploads`` with ``Upload-Length`` and ``Upload-Metadata`` (base64 values of
  ``filename``, ``name``, ``brand_id``, ``location_id``, ``folder``, ``tags``, the last one
  comma-separated): 201, the upload's URL in ``Location``.
- ``HEAD`` on that URL: ``Upload-Offset``, how many bytes are kept.
- ``PATCH`` with ``Content-Type: application/offset+octet-stream`` and ``Upload-Offset``: the
  next bytes. The answer to the ``PATCH`` that brings the last byte carries
  ``Chorus-Media-Id`` and ``Chorus-Media-Location`` (``/v1/media/{id}``, where the media's
  processing shows); ``HEAD`` on a finished upload does too.
- ``DELETE`` on it: terminated, its bytes dropped.

Every answer carries ``Tus-Resumable: 1.0.0``; every error is problem+json naming the header
to fix. Requests are authenticated like every API route (bearer token or API key).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Coroutine
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from services.api.deps import CurrentPrincipal, Redis, Session, SettingsDep, get_database
from services.api.problems import problems
from services.api.routes.media_files import MediaStorage
from shared.errors import AppError, BadRequest, FieldProblem
from shared.media import resumable
from shared.media.service import MediaDetails

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
BASE = "/v1/media/uploads"
METADATA_KEYS = ("filename", "name", "brand_id", "location_id", "folder", "tags")


class _TusRoute(APIRoute):
    """Adds ``Tus-Resumable`` to every error this router's operations raise, whoever raised
    it (authentication, the library's checks), as the protocol asks of every answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_version(request: Request) -> Response:
            try:
                response = await handler(request)
            except AppError as exc:
                exc.headers.setdefault("Tus-Resumable", TUS_VERSION)
                raise
            response.headers.setdefault("Tus-Resumable", TUS_VERSION)
            return response

        return with_version


class PreconditionFailed(AppError):
    status_code = 412
    code = "tus_version_unsupported"
    title = "Precondition failed"


class UnsupportedContentType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


TusResumable = Annotated[str | None, Header(include_in_schema=False)]
"""Read here (a missing or other version is the protocol's 412, not a 422), and declared in
the document by ``TUS_OPERATION`` as the required header it is."""
TUS_HEADER = {
    "name": "Tus-Resumable",
    "in": "header",
    "required": True,
    "description": "The tus protocol version: `1.0.0` (any other, or none: 412).",
    "schema": {"type": "string", "enum": ["1.0.0"]},
}
TUS_OPERATION: dict[str, Any] = {"x-permission": "media.create", "parameters": [TUS_HEADER]}


def require_tus(tus_resumable: str | None) -> None:
    """The protocol's version header, on every request but ``OPTIONS`` (412 otherwise)."""
    if tus_resumable != TUS_VERSION:
        said = "is missing" if tus_resumable is None else f"is {tus_resumable!r}"
        raise PreconditionFailed(
            f"the Tus-Resumable header {said}; this server speaks tus {TUS_VERSION}: send "
            f"`Tus-Resumable: {TUS_VERSION}` (a tus client does)",
            headers={"Tus-Version": TUS_VERSION},
        )


router = APIRouter(prefix=BASE, tags=["media"], route_class=_TusRoute)


def _http_date(state: resumable.UploadState) -> str:
    return format_datetime(state.expires_at, usegmt=True)


def _progress_headers(state: resumable.UploadState) -> dict[str, str]:
    headers = {
        "Tus-Resumable": TUS_VERSION,
        "Upload-Offset": str(state.offset),
        "Upload-Length": str(state.length),
        "Cache-Control": "no-store",
    }
    if state.status == "open":
        headers["Upload-Expires"] = _http_date(state)
    if state.media_id is not None:
        headers["Chorus-Media-Id"] = str(state.media_id)
        headers["Chorus-Media-Location"] = f"/v1/media/{state.media_id}"
    return headers


# Parsing the protocol's headers ----------------------------------------------------------------


def _header_problem(header: str, message: str, code: str) -> BadRequest:
    return BadRequest(
        f"{header}: {message}",
        code=code,
        errors=[FieldProblem(f"header.{header}", message, code)],
    )


def parse_length(value: str | None, header: str) -> int:
    if value is None:
        raise _header_problem(
            header, "required: the file's size in bytes", f"{header.lower()}_missing"
        )
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise _header_problem(
            header, f"must be a whole number of bytes, not {value[:40]!r}", "header_invalid"
        )
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (the value may be left
    out); keys Chorus does not read (``filetype``, say) are ignored."""
    found: dict[str, str] = {}
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, _, encoded = item.partition(" ")
        if not key.isascii() or " " in encoded.strip() or key in found:
            raise _header_problem(
                "Upload-Metadata",
                "must be comma-separated `key base64value` pairs, each key once",
                "upload_metadata_invalid",
            )
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _header_problem(
                "Upload-Metadata",
                f"the value of {key!r} is not base64 of UTF-8 text",
                "upload_metadata_invalid",
            ) from None
        found[key] = decoded
    return found


def _uuid_field(metadata: dict[str, str], key: str) -> uuid.UUID | None:
    raw = metadata.get(key, "").strip()
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _header_problem(
            "Upload-Metadata", f"{key} must be an id (a UUID), not {raw[:40]!r}", "uuid_invalid"
        ) from None


def details_from(metadata: dict[str, str]) -> MediaDetails:
    name = metadata.get("name") or metadata.get("filename") or "Upload"
    tags = tuple(tag.strip() for tag in metadata.get("tags", "").split(",") if tag.strip())
    return MediaDetails(
        name=name,
        brand_id=_uuid_field(metadata, "brand_id"),
        location_id=_uuid_field(metadata, "location_id"),
        folder=metadata.get("folder", ""),
        tags=tags,
    )


# Operations ----------------------------------------------------------------------------------


@router.options(
    "",
    summary="What this server's resumable uploads speak (tus discovery)",
    status_code=204,
    response_class=Response,
)
async def discover(settings: SettingsDep) -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(resumable.max_size(settings)),
        },
    )


@router.post(
    "",
    summary="Begin a resumable upload (tus creation)",
    description="Headers: `Tus-Resumable: 1.0.0`, `Upload-Length` (bytes), `Upload-Metadata` "
    "(`filename`, `name`, `brand_id`, `location_id`, `folder`, `tags`, base64). The upload's "
    "URL is in `Location`; unfinished, it is dropped after `Upload-Expires`.",
    status_code=201,
    response_class=Response,
    responses=problems(400, 402, 403, 404, 412, 413, 422),
    openapi_extra=TUS_OPERATION,
)
async def create_upload(
    request: Request,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    storage: MediaStorage,
    upload_length: Annotated[str | None, Header(include_in_schema=False)] = None,
    upload_metadata: Annotated[str | None, Header(include_in_schema=False)] = None,
    upload_defer_length: Annotated[str | None, Header(include_in_schema=False)] = None,
    tus_resumable: TusResumable = None,
) -> Response:
    require_tus(tus_resumable)  # here, not a dependency: a malformed id is a 422 first
    if upload_defer_length is not None:
        raise _header_problem(
            "Upload-Defer-Length",
            "not supported (the creation-defer-length extension): send Upload-Length, the "
            "file's size in bytes, when creating the upload",
            "upload_defer_length_unsupported",
        )
    length = parse_length(upload_length, "Upload-Length")
    details = details_from(parse_metadata(upload_metadata))
    state = await resumable.create(session, storage, settings, principal, details, length)
    return Response(
        status_code=201,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Location": f"{BASE}/{state.id}",
            "Upload-Expires": _http_date(state),
            "Upload-Offset": "0",
        },
    )


@router.head(
    "/{upload_id}",
    summary="How much of a resumable upload is kept (tus offset)",
    response_class=Response,
    responses=problems(404, 410, 412),
    openapi_extra=TUS_OPERATION,
)
async def upload_offset(
    upload_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    tus_resumable: TusResumable = None,
) -> Response:
    require_tus(tus_resumable)  # here, not a dependency: a malformed id is a 422 first
    state = await resumable.state(session, principal, upload_id)
    return Response(status_code=200, headers=_progress_headers(state))


@router.patch(
    "/{upload_id}",
    summary="Send the next bytes of a resumable upload",
    description=f"`Content-Type: {OFFSET_STREAM}`, `Upload-Offset` (the offset `HEAD` gives). "
    "Bytes are kept as they arrive, a cut connection included. The answer that takes the last "
    "byte carries `Chorus-Media-Id` and `Chorus-Media-Location`.",
    status_code=204,
    response_class=Response,
    responses=problems(400, 404, 409, 410, 412, 413, 415, 423),
    openapi_extra=TUS_OPERATION,
)
async def upload_bytes(
    request: Request,
    upload_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    storage: MediaStorage,
    redis: Redis,
    upload_offset: Annotated[str | None, Header(include_in_schema=False)] = None,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    content_length: Annotated[str | None, Header(include_in_schema=False)] = None,
    tus_resumable: TusResumable = None,
) -> Response:
    require_tus(tus_resumable)  # here, not a dependency: a malformed id is a 422 first
    if (content_type or "").split(";", 1)[0].strip().lower() != OFFSET_STREAM:
        raise UnsupportedContentType(
            f"Content-Type must be {OFFSET_STREAM} for the bytes of an upload, not "
            f"{(content_type or 'missing')[:60]!r}",
        )
    offset = parse_length(upload_offset, "Upload-Offset")
    declared = parse_length(content_length, "Content-Length") if content_length else None
    # The bytes may take minutes: the request's own transaction ends here (its connection
    # back in the pool), and the upload commits each part in a short transaction of its own.
    await session.commit()
    try:
        state = await resumable.append(
            get_database(request),
            storage,
            redis,
            settings,
            principal,
            upload_id,
            offset,
            request.stream(),
            declared_size=declared,
        )
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it; the bytes are kept
    return Response(status_code=204, headers=_progress_headers(state))


@router.delete(
    "/{upload_id}",
    summary="Terminate a resumable upload (its bytes are dropped)",
    status_code=204,
    response_class=Response,
    responses=problems(404, 409, 412, 423),
    openapi_extra=TUS_OPERATION,
)
async def terminate_upload(
    upload_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    storage: MediaStorage,
    redis: Redis,
    tus_resumable: TusResumable = None,
) -> Response:
    require_tus(tus_resumable)  # here, not a dependency: a malformed id is a 422 first
    await resumable.abort(session, storage, redis, principal, upload_id)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
