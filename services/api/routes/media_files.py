"""Serving stored media through signed links (``shared.media.signing``): no credentials, since
platforms fetch the files themselves; the signature is the permission.

Range requests are answered (video players and Instagram's fetcher seek), the type is the one
signed, and the response forbids sniffing and caching past the link's expiry. The router's
lifespan opens the media storage (and the link signer) for the app and closes it on shutdown:
``MediaStorage`` and ``MediaSigner`` are the dependencies other routes take them from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import StreamingResponse

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


router = APIRouter(lifespan=media_lifespan)


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


async def media_file(request: Request) -> Response:
    """GET and HEAD ``/v1/media/files/<key>?type=&exp=&sig=``."""
    storage: Storage = request.app.state.media_storage
    signer: MediaUrlSigner = request.app.state.media_signer
    key: str = request.path_params["key"]
    query = request.query_params
    type_, exp, sig = query.get("type"), query.get("exp"), query.get("sig")
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


# A plain route, not an API operation: platforms' fetchers call it, not API clients (who get
# the links from the API), so it is left out of the OpenAPI document like the approval page,
# and a query parameter a fetcher appends is ignored rather than refused.
router.add_route(
    FILES_PATH + "{key:path}", media_file, methods=["GET", "HEAD"], include_in_schema=False
)
