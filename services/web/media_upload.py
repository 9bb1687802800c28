"""The web app's upload of several photos and videos in one plain form (issue #17), through
the same service functions as ``POST /v1/media``: ``check_new_media`` (who may, where, the
size, the plan's storage), the bytes into storage at ``upload_key``, ``register_upload`` (the
media ``processing``, the worker's job after commit).

The form's body has already been read by the CSRF check (``request.form()``): Starlette
spools each file to a temporary file past 1 MB, so memory stays flat; each file is then
copied to storage in chunks, its type read from its first bytes on the way (never from its
name or the browser's header). A refused file (type 415, size 413, an odd name) is reported
by name and the others are kept; the plan's storage (402) is checked for all of them first,
so it refuses before any byte is stored. Bytes stored for a request that then fails are
removed again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from services.web.i18n import Translator
from services.web.media_view import size_words
from shared.access.principal import Principal
from shared.config import Settings
from shared.errors import PayloadTooLarge, ValidationFailed
from shared.media import service as media_service
from shared.media.models import Media
from shared.media.sniff import HEAD_BYTES, Unsupported, sniff
from shared.media.storage import Storage

CHUNK_BYTES = 1024 * 1024
ACCEPTED_WORDS = "JPEG, PNG, WebP, HEIC/HEIF, GIF, MP4, MOV"


@dataclass(frozen=True, slots=True)
class Refusal:
    """One file not taken, and why, in the reader's language."""

    file_name: str
    words: str
    status: int


@dataclass
class UploadOutcome:
    stored: list[Media]
    refused: list[Refusal]


def chosen_files(values: list[object]) -> list[UploadFile]:
    """The form's file inputs, without the empty part a browser sends for an input left
    empty (no name, no bytes)."""
    return [v for v in values if isinstance(v, UploadFile) and (v.filename or (v.size or 0) > 0)]


def one_request_limit(settings: Settings) -> int:
    """The most one form may carry: the file limit of ``POST /v1/media`` and the request
    limit every body meets first (``BodySizeLimitMiddleware``), whichever is lower."""
    return min(settings.media_max_upload_bytes, settings.max_request_bytes)


def _name_of(upload: UploadFile, fallback: str) -> str:
    raw = (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].strip()
    return (raw or fallback)[: media_service.MAX_NAME]


async def _chunks(head: bytes, upload: UploadFile) -> AsyncIterator[bytes]:
    if head:
        yield head
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


async def store_files(
    session: AsyncSession,
    redis: ArqRedis | None,
    settings: Settings,
    storage: Storage,
    principal: Principal,
    t: Translator,
    files: list[UploadFile],
    owner: media_service.MediaDetails,
) -> UploadOutcome:
    """Each file checked, stored and registered; ``owner`` holds the library (brand and
    location ids), the folder and the tags, already cleaned."""
    total = sum(f.size or 0 for f in files)
    await media_service.require_storage(session, settings, principal.agency_id, total)
    most = one_request_limit(settings)
    outcome = UploadOutcome([], [])
    stored_keys: list[str] = []
    try:
        for upload in files:
            name = _name_of(upload, t.gettext("Upload"))
            size = upload.size or 0
            if size > most:
                words = t.gettext(
                    "%(size)s is more than the %(most)s one form can send. Turn on "
                    "JavaScript to send larger files in pieces, or send a smaller copy.",
                    size=size_words(t, size),
                    most=size_words(t, most),
                )
                outcome.refused.append(Refusal(name, words, 413))
                continue
            head = await upload.read(HEAD_BYTES)
            found = sniff(head)
            if isinstance(found, Unsupported) or not head:
                words = t.gettext(
                    "This is not a photo or video Chorus takes. It takes %(types)s.",
                    types=ACCEPTED_WORDS,
                )
                outcome.refused.append(Refusal(name, words, 415))
                continue
            try:
                details = await media_service.check_new_media(
                    session, settings, principal, replace(owner, name=name), size
                )
            except PayloadTooLarge:
                words = t.gettext("This file is larger than Chorus takes in one piece.")
                outcome.refused.append(Refusal(name, words, 413))
                continue
            except ValidationFailed:
                words = t.gettext("Rename the file: its name has characters Chorus cannot keep.")
                outcome.refused.append(Refusal(name, words, 422))
                continue
            key = media_service.upload_key(principal.agency_id, uuid.uuid4())
            stored_keys.append(key)
            await storage.put(key, _chunks(head, upload))
            media = await media_service.register_upload(
                session, redis, principal, details, key=key, size=size, media_type=found.value
            )
            outcome.stored.append(media)
    except BaseException:
        for key in stored_keys:
            await storage.delete(key)
        raise
    return outcome
