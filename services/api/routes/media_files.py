"""Serving stored media through signed links (``shared.media.signing``): no credentials, since
platforms fetch the files themselves; the signature is the permission.

Range requests are answered (video players and Instagram's fetcher seek), the type is the one
signed, and the response forbids sniffing and caching past the link's expiry. The router
opens the media storage (and the link signer) for the app and closes it on shutdown:
``MediaStorage`` is the dependency other routes take it from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.api.problems import problems
from shared import clock
from shared.config import Settings
from shared.media.ranges import parse_range
from shared.media.signing import FILES_PATH, MediaUrlSigner
from shared.media.storage import ObjectNotFound, Storage, storage_from_settings


@asynccontextmanager
async def media_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.media_signer = MediaUrlSigner.from_settings(settings)
    storage = storage_from_settings(settings)
    app.state.media_storage = storage
    try:
        yield
    finally:
        await storage.aclose()


router = APIRouter(tags=["media"], lifespan=media_lifespan)


async def get_media_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.media_storage
    return storage


async def get_media_signer(request: Request) -> MediaUrlSigner:
    signer: MediaUrlSigner = request.app.state.media_signer
    return signer


MediaStorage = Annotated[Storage, Depends(get_media_storage)]
MediaSigner = Annotated[MediaUrlSigner, Depends(get_media_signer)]

FILE_HEADERS = {
    "Accept-Ranges": "bytes",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": "inline",
    # Only ever media, and if a browser opens it: no scripts, no requests, no referrer.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}


@router.api_route(
    FILES_PATH + "{key:path}",
    methods=["GET", "HEAD"],
    summary="A stored media file, through a signed link",
    description="No authentication: the link's signature (`sig`), expiry (`exp`) and type "
    "(`type`) are the permission, as `Chorus` signed them. Single byte ranges are answered "
    "with 206; a range past the end with 416.",
    response_class=Response,
    responses={
        200: {"description": "The file", "content": {"application/octet-stream": {}}},
        206: {"description": "The requested byte range"},
        **problems(403, 404, 416),
    },
)
async def media_file(
    request: Request,
    key: str,
    storage: MediaStorage,
    signer: MediaSigner,
    type_: Annotated[str | None, Query(alias="type", max_length=100)] = None,
    exp: Annotated[str | None, Query(max_length=20)] = None,
    sig: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    granted = signer.verify(key, content_type=type_, expires=exp, signature=sig)
    info = await storage.head(granted.key)
    if info is None:
        raise ObjectNotFound(granted.key)
    etag = f'"{info.etag}"'
    wanted = None
    if request.headers.get("if-range") in (None, etag):
        wanted = parse_range(request.headers.get("range"), info.size)
    seconds_left = max(0, int((granted.expires_at - clock.now()).total_seconds()))
    headers = {
        **FILE_HEADERS,
        "ETag": etag,
        "Last-Modified": format_datetime(info.modified_at, usegmt=True),
        "Cache-Control": f"private, max-age={seconds_left}",
    }
    start, end, status = 0, info.size, 200
    if wanted is not None:
        start, end, status = wanted.start, wanted.end, 206
        headers["Content-Range"] = wanted.content_range(info.size)
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD" or start == end:
        return Response(status_code=status, headers=headers, media_type=granted.content_type)
    return StreamingResponse(
        storage.get(granted.key, start, end),
        status_code=status,
        headers=headers,
        media_type=granted.content_type,
    )
