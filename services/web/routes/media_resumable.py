"""Large files from the web app's upload form, in pieces (issue #17): the tus requests of
``/v1/media/uploads`` under the web app's own paths, authenticated by the session cookie
(the API's need a bearer token, which a browser page never holds) and guarded by CSRF
(``X-CSRF-Token``: only our script sends them). ``media_upload.js`` uses them for every file
when script runs, in pieces of at most ``chunk_bytes`` (each ``PATCH`` stays under the
request limit every body meets, ``max_request_bytes``), so a file of any size up to the
resumable limit goes, shows its progress, and resumes after a cut connection.

- ``POST /media/uploads`` (``Upload-Length``, ``Upload-Metadata`` with ``filename``,
  ``folder``, ``tags`` and ``library``; the page's ``scope``: ``location`` or ``brand``):
  201, ``Location``.
- ``HEAD /media/uploads/{id}``: ``Upload-Offset``.
- ``PATCH /media/uploads/{id}`` (``Upload-Offset``, offset+octet-stream): 204; with the last
  byte, ``Chorus-Media-Id`` (the script links to the media's page of the page it runs on).
- ``DELETE /media/uploads/{id}``: dropped.

The owner is the page's library (``media_scope``), never an id the request names. A refusal
the person can act on (type 415, size 413) answers a small page whose
``[data-upload-problem]`` says why in their language; the rest are the app's error pages
(402: the upgrade page), which the script shows in place of the form."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from services.api.deps import Redis, Session, SettingsDep, get_database
from services.api.routes.media_files import MediaStorage
from services.api.routes.media_uploads import OFFSET_STREAM, parse_length, parse_metadata
from services.web import media_scope
from services.web.deps import SignedIn, Viewer
from services.web.media_upload import ACCEPTED_WORDS
from services.web.media_view import size_words
from services.web.rendering import render, translator
from services.web.routing import web_router
from services.web.security import add_headers
from shared.errors import AppError, BadRequest, NotFound, PayloadTooLarge
from shared.media import resumable
from shared.media import service as media_service

router = web_router()

BASE = "/media/uploads"
_H = Annotated[str | None, Header(include_in_schema=False)]


def _refused(request: Request, words: str, status_code: int) -> Response:
    return render(request, "media/refused.html", {"words": words}, status_code=status_code)


def _owner(viewer: Viewer, scope_name: str, library: str) -> media_service.MediaDetails:
    scope = media_scope.scope_of(viewer, brand_page=scope_name == "brand")
    brand_id, location_id = scope.upload_owner(scope.library(library))
    return media_service.MediaDetails(name="", brand_id=brand_id, location_id=location_id)


def _upload_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("upload not found") from None


def _offset_headers(state: resumable.UploadState) -> dict[str, str]:
    headers = {"Upload-Offset": str(state.offset), "Upload-Length": str(state.length)}
    if state.media_id is not None:
        headers["Chorus-Media-Id"] = str(state.media_id)
    return headers


def _answer(status_code: int, headers: dict[str, str]) -> Response:
    response = Response(status_code=status_code, headers={"Tus-Resumable": "1.0.0", **headers})
    return add_headers(response)


@router.post(BASE)
async def create(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    storage: MediaStorage,
    scope: str = "location",
    upload_length: _H = None,
    upload_metadata: _H = None,
) -> Response:
    t = translator(request)
    try:
        length = parse_length(upload_length, "Upload-Length")
        metadata = parse_metadata(upload_metadata)
    except BadRequest:
        return _refused(request, t.gettext("The browser sent an upload Chorus cannot read."), 400)
    owner = _owner(viewer, scope, metadata.get("library", ""))
    name = (metadata.get("filename") or t.gettext("Upload"))[: media_service.MAX_NAME]
    try:
        details = media_service.MediaDetails(
            name=name,
            brand_id=owner.brand_id,
            location_id=owner.location_id,
            folder=media_service.clean_folder(metadata.get("folder", "")),
            tags=media_service.clean_tags(metadata.get("tags", "").split(",")),
        )
        state = await resumable.create(
            session, storage, settings, viewer.principal, details, length
        )
    except PayloadTooLarge:
        most = resumable.max_size(settings)
        words = t.gettext(
            "This file is %(size)s; Chorus takes files of up to %(most)s.",
            size=size_words(t, length),
            most=size_words(t, most),
        )
        return _refused(request, words, 413)
    except BadRequest:
        return _refused(request, t.gettext("This file is empty."), 400)
    except AppError as exc:
        if exc.status_code != 422:
            raise
        return _refused(request, t.gettext("Check the folder, the tags and the file's name."), 422)
    return _answer(201, {"Location": f"{BASE}/{state.id}", "Upload-Offset": "0"})


@router.head(BASE + "/{upload_id}")
async def offset(upload_id: str, viewer: SignedIn, session: Session) -> Response:
    state = await resumable.state(session, viewer.principal, _upload_id(upload_id))
    return _answer(200, _offset_headers(state))


@router.patch(BASE + "/{upload_id}")
async def append(
    request: Request,
    upload_id: str,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    storage: MediaStorage,
    redis: Redis,
    upload_offset: _H = None,
    content_type: _H = None,
    content_length: _H = None,
) -> Response:
    t = translator(request)
    found = _upload_id(upload_id)
    if (content_type or "").split(";", 1)[0].strip().lower() != OFFSET_STREAM:
        return _refused(request, t.gettext("The browser sent an upload Chorus cannot read."), 415)
    try:
        at = parse_length(upload_offset, "Upload-Offset")
        declared = parse_length(content_length, "Content-Length") if content_length else None
    except BadRequest:
        return _refused(request, t.gettext("The browser sent an upload Chorus cannot read."), 400)
    await session.commit()  # the bytes may take minutes: no transaction held meanwhile
    try:
        state = await resumable.append(
            get_database(request), storage, redis, settings, viewer.principal, found, at,
            request.stream(), declared_size=declared,
        )  # fmt: skip
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it; the bytes are kept
    except resumable.UploadTypeRefused:
        words = t.gettext(
            "This is not a photo or video Chorus takes. It takes %(types)s.", types=ACCEPTED_WORDS
        )
        return _refused(request, words, 415)
    return _answer(204, _offset_headers(state))


@router.delete(BASE + "/{upload_id}")
async def terminate(
    upload_id: str, viewer: SignedIn, session: Session, storage: MediaStorage, redis: Redis
) -> Response:
    await resumable.abort(session, storage, redis, viewer.principal, _upload_id(upload_id))
    return _answer(204, {})
