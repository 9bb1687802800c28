"""What the media pages show of a media (issue #17): its card in the library's grid and the
facts on its own page, in the reader's language, with same-origin signed links to its clean
copy or poster (the page's CSP allows images from ``'self'`` only, so the links are paths,
not the public base URL platforms fetch from).

Links are signed to expire at the end of a fixed window (``LINK_WINDOW`` past the settings'
lifetime, rounded), so the same thumbnail keeps the same address for minutes and the
browser's cache serves it again on the next page instead of fetching it anew."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.web.i18n import N_, Translator
from shared.config import Settings
from shared.media import service as media_service
from shared.media.facts import MediaType
from shared.media.models import Media, MediaBlob
from shared.media.signing import MediaUrlSigner

LINK_WINDOW = timedelta(minutes=5)
THUMB_SIDE = 320
"""The grid's thumbnails fit in this many CSS pixels (the clean copy, scaled by the browser:
``width``/``height`` attributes keep the layout from jumping while it loads)."""

KIND_NAMES = {"image": N_("Photo"), "video": N_("Video"), "gif": N_("Animation")}
STATUS_NAMES = {
    "processing": N_("Being prepared"),
    "ready": N_("Ready"),
    "failed": N_("Could not be used"),
}
FAILURES = {
    "unsupported_type": N_(
        "The file is not a type Chorus takes (JPEG, PNG, WebP, HEIC, GIF, MP4 or MOV)."
    ),
    "corrupt": N_("The file is damaged or cut short. Upload it again from the original."),
    "too_many_pixels": N_("The image is too large in pixels. Send a smaller copy."),
    "too_many_frames": N_("The animation has too many frames. Send a shorter one."),
    "unsupported_codec": N_(
        "The video is not H.264 or HEVC with AAC sound. Export it again as MP4 (H.264)."
    ),
    "no_video": N_("The file holds no video picture."),
    "upload_missing": N_(
        "The uploaded file was lost before it could be prepared. Upload it again."
    ),
}
UNKNOWN_FAILURE = N_("Chorus could not prepare this file. Upload it again, or try another copy.")


@dataclass(frozen=True, slots=True)
class Thumb:
    src: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class MediaCard:
    id: uuid.UUID
    name: str
    folder: str
    tags: tuple[str, ...]
    status: str
    progress: int
    failure: str
    kind: str
    kind_name: str
    type_label: str
    thumb: Thumb | None
    rights_until: str
    rights_expired: bool
    deleted: bool
    purge_on: str


def link_expiry(settings: Settings, now: datetime) -> datetime:
    """At least the settings' lifetime from ``now``, on a ``LINK_WINDOW`` boundary."""
    window = int(LINK_WINDOW.total_seconds())
    start = int(now.timestamp()) // window * window
    return datetime.fromtimestamp(start, UTC) + timedelta(
        seconds=settings.media_url_ttl_seconds + window
    )


def signed_path(
    signer: MediaUrlSigner, media: Media, key: str, mime: str, expires_at: datetime
) -> str:
    return signer.sign(media.agency_id, key, content_type=mime, expires_at=expires_at)


def file_link(signer: MediaUrlSigner, row: media_service.MediaRow, expires_at: datetime) -> str:
    """The clean copy (what is served), or "" before it exists."""
    media, blob = row.media, row.blob
    if blob is None or media.status != "ready":
        return ""
    return signed_path(signer, media, blob.clean_key, MediaType(blob.media_type).mime, expires_at)


def poster_link(signer: MediaUrlSigner, row: media_service.MediaRow, expires_at: datetime) -> str:
    media, blob = row.media, row.blob
    if blob is None or media.status != "ready" or not blob.poster_key:
        return ""
    return signed_path(signer, media, blob.poster_key, "image/jpeg", expires_at)


def _thumb(
    signer: MediaUrlSigner, row: media_service.MediaRow, expires_at: datetime
) -> Thumb | None:
    blob = row.blob
    if blob is None or row.media.status != "ready":
        return None
    src = poster_link(signer, row, expires_at) if blob.kind == "video" else ""
    src = src or (file_link(signer, row, expires_at) if blob.kind != "video" else "")
    if not src:
        return None
    width, height = display_size(blob, THUMB_SIDE)
    return Thumb(src, width, height)


def display_size(blob: MediaBlob, side: int) -> tuple[int, int]:
    """The file's shape scaled to fit a ``side`` × ``side`` box (never enlarged)."""
    width = int(blob.facts.get("width") or side)
    height = int(blob.facts.get("height") or side)
    scale = min(1.0, side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def failure_words(t: Translator, media: Media) -> str:
    if media.status != "failed":
        return ""
    return t.gettext(FAILURES.get(media.failure_code or "", UNKNOWN_FAILURE))


def rights_until(t: Translator, media: Media, zone: str) -> str:
    """The last day the rights allow (they end at the start of the next one)."""
    if media.rights_expire_at is None:
        return ""
    return t.format_date(media.rights_expire_at - timedelta(microseconds=1), zone)


def type_label(row: media_service.MediaRow) -> str:
    value = row.blob.media_type if row.blob else row.media.upload_type
    try:
        return MediaType(value).label
    except ValueError:
        return value.upper()


def card(
    t: Translator,
    signer: MediaUrlSigner,
    row: media_service.MediaRow,
    *,
    zone: str,
    now: datetime,
    expires_at: datetime,
) -> MediaCard:
    media = row.media
    kind = row.blob.kind if row.blob else ("video" if _is_video(media.upload_type) else "image")
    return MediaCard(
        id=media.id,
        name=media.name,
        folder=media.folder,
        tags=tuple(media.tags),
        status=media.status,
        progress=media.progress,
        failure=failure_words(t, media),
        kind=kind,
        kind_name=t.gettext(KIND_NAMES.get(kind, KIND_NAMES["image"])),
        type_label=type_label(row),
        thumb=_thumb(signer, row, expires_at),
        rights_until=rights_until(t, media, zone),
        rights_expired=media_service.rights_expired(media, now),
        deleted=media.deleted_at is not None,
        purge_on=t.format_date(media.purge_after, zone) if media.purge_after else "",
    )


def _is_video(upload_type: str) -> bool:
    try:
        return MediaType(upload_type).is_video
    except ValueError:
        return False


def size_words(t: Translator, size: int) -> str:
    """1.2 MB, 840 KB, 512 bytes: decimal units, as phones and file managers say them."""
    if size >= 1_000_000:
        return t.gettext("%(n)s MB", n=t.format_number(round(size / 1_000_000, 1)))
    if size >= 1_000:
        return t.gettext("%(n)s KB", n=t.format_number(round(size / 1_000)))
    return t.ngettext("%(num)s byte", "%(num)s bytes", size)


def duration_words(t: Translator, seconds: float) -> str:
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    if minutes:
        return t.gettext("%(m)s min %(s)s s", m=t.format_number(minutes), s=t.format_number(rest))
    return t.gettext("%(s)s s", s=t.format_number(round(seconds, 1)))
