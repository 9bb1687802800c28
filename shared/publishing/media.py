"""Library media at publish time (issue #17): what a post's ``media_id`` items become for its
connector, or why the post must not go out.

Just before a post is sent, for each media of the library it names:

- the media must still be sendable (not deleted, ``ready``), and its usage rights must not
  have ended: a post past a media's ``rights_expire_at`` fails saying whose rights ended when;
- ``derivative_store.derivatives_for_post`` gives the stored file for the post's platform
  and placement (``library_media.placement_for``: on Instagram one video is a Reel), made
  now if it was never made; a set the placement refuses fails the post naming each rule;
- the connector gets an absolute signed link to that file (``signing.media_url``) and, for a
  video whose placement takes one, to its cover. Platforms that pull fetch the link; X
  downloads it through the SSRF-guarded client and uploads the bytes.

Items given by URL go out as they are, in their place among the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.config import Settings
from shared.content.library_media import placement_for
from shared.content.media import MediaKind
from shared.errors import AppError
from shared.media.derivative_store import (
    PostFiles,
    PostMedia,
    StoredDerivative,
    derivatives_for_post,
)
from shared.media.signing import MediaUrlSigner, media_url
from shared.media.storage import Storage
from shared.platforms.types import Media, PostContent
from shared.templates import media_refs


@dataclass(frozen=True, slots=True)
class PostToSend:
    """One post about to be sent: its platform, its stored media items (JSON) and the
    content built from its URL items."""

    post_id: uuid.UUID
    platform: str
    items: Sequence[Any]
    content: PostContent


@dataclass(frozen=True, slots=True)
class Refused:
    """Why the post must not go out (its ``failed`` reason)."""

    reason: str


def library_ids(items: Sequence[Any]) -> list[uuid.UUID]:
    """The library media a post's stored items name (an item with a URL goes as it is)."""
    return [
        media_id
        for item in items
        if isinstance(item, dict)
        and not item.get("url")
        and (media_id := media_refs.parse_id(_str(item.get("media_id")))) is not None
    ]


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _kind(item: dict[str, Any]) -> MediaKind:
    raw = item.get("kind")
    return MediaKind(raw) if raw in ("image", "video", "gif") else MediaKind.IMAGE


def rights_ended(name: str, at: datetime) -> str:
    return f"the usage rights of “{name}” ended on {at.date().isoformat()}"


async def prepare(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    agency_id: uuid.UUID,
    posts: Sequence[PostToSend],
    now: datetime,
) -> dict[uuid.UUID, PostContent | Refused]:
    """Per post naming library media: the content to send (its media as signed links, in
    the post's order), or why it is refused. Posts naming none are left out."""
    wanted = {post.post_id: library_ids(post.items) for post in posts}
    every = list(dict.fromkeys(i for ids in wanted.values() for i in ids))
    if not every:
        return {}
    rows = await media_refs.load(session, agency_id, every)
    signer = MediaUrlSigner.from_settings(settings)
    out: dict[uuid.UUID, PostContent | Refused] = {}
    # A campaign's posts of one platform name the same media: their files are found once.
    found: dict[tuple[str, str, tuple[uuid.UUID, ...]], PostFiles | Refused] = {}
    for post in posts:
        ids = wanted[post.post_id]
        if not ids:
            continue
        refusal = _refusal(ids, rows, now)
        if refusal is not None:
            out[post.post_id] = refusal
            continue
        items = [i for i in post.items if isinstance(i, dict)]
        placement = placement_for(post.platform, [_kind(i) for i in items])
        key = (post.platform, placement, tuple(ids))
        files = found.get(key)
        if files is None:
            files = found[key] = await _files(session, storage, agency_id, *key)
        if isinstance(files, Refused):
            out[post.post_id] = files
            continue
        out[post.post_id] = replace(
            post.content,
            media=_media(settings, signer, agency_id, items, iter(files.items)),
        )
    return out


async def _files(
    session: AsyncSession,
    storage: Storage,
    agency_id: uuid.UUID,
    platform: str,
    placement: str,
    ids: tuple[uuid.UUID, ...],
) -> PostFiles | Refused:
    try:
        files = await derivatives_for_post(session, storage, agency_id, platform, placement, ids)
    except AppError as exc:  # unavailable since the check above, or its blob is gone
        return Refused(f"its media cannot be sent: {exc.message}")
    if files.problems:
        return Refused(
            f"{platform} would refuse its media: "
            + "; ".join(problem.message for problem in files.problems)
        )
    return files


def _refusal(
    ids: Sequence[uuid.UUID], rows: dict[uuid.UUID, media_refs.Found], now: datetime
) -> Refused | None:
    for media_id in ids:
        found = rows.get(media_id)
        why = media_refs.unavailable(found)
        if why is not None:
            return Refused(f"its media {why}" if found is None else f"media {why}")
        assert found is not None
        expires = found.media.rights_expire_at
        if expires is not None and expires <= now:
            return Refused(rights_ended(found.media.name, expires))
    return None


def _media(
    settings: Settings,
    signer: MediaUrlSigner,
    agency_id: uuid.UUID,
    items: Sequence[dict[str, Any]],
    files: Any,
) -> tuple[Media, ...]:
    out: list[Media] = []
    for item in items:
        if item.get("url"):
            out.append(Media(url=str(item["url"]), kind=_connector_kind(_kind(item))))
            continue
        if media_refs.parse_id(_str(item.get("media_id"))) is None:
            continue
        sent: PostMedia = next(files)
        cover = _link(settings, signer, agency_id, sent.cover) if sent.cover else None
        out.append(
            Media(
                url=_link(settings, signer, agency_id, sent.file),
                kind=_connector_kind(sent.file.facts.kind),
                cover_url=cover,
            )
        )
    return tuple(out)


def _connector_kind(kind: MediaKind) -> Literal["image", "video"]:
    return "video" if kind is MediaKind.VIDEO else "image"


def _link(
    settings: Settings, signer: MediaUrlSigner, agency_id: uuid.UUID, file: StoredDerivative
) -> str:
    return media_url(
        settings, agency_id, file.storage_key, content_type=file.facts.type.mime, signer=signer
    )
