"""Library media chosen with the media picker (issue #17), for the compose page and the
template editor: the ids ticked per media key (``default`` and each platform) read back from
a form, turned into the API's media items (``{kind, media_id}``) and checked as the services
check them (``shared.templates.media_refs``), each problem in the reader's words under the
key it concerns. A file whose usage rights end before the content would be used is refused
here, at once, rather than failing its post at publishing time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.web.i18n import N_, Translator
from shared.access.policy import Target, allowed
from shared.access.principal import Principal
from shared.errors import ValidationFailed
from shared.media import service as media_service
from shared.templates import media_refs
from shared.templates.schemas import MediaIn

MAX_PER_KEY = 10
"""More files than any platform takes in one post (Instagram and X carousels)."""

NOT_FOUND = N_("A chosen file is no longer in the media library; choose another.")
_WORDS = {
    "media_not_found": NOT_FOUND,
    "media_not_usable": N_("“%(name)s” belongs to another library and cannot be used here."),
    "media_processing": N_("“%(name)s” is still being prepared; wait until it is ready."),
    "media_failed": N_("“%(name)s” could not be prepared; choose another file."),
    "media_kind": N_("“%(name)s” is not the kind of file this place takes."),
}
Problems = dict[str, list[str]]
"""Media key → what is wrong with the files chosen for it."""


def picked_of(form: Mapping[str, Any], keys: Iterable[str], name: str) -> dict[str, list[str]]:
    """The ids ticked per key, in the form's order, once each (``name`` has ``{key}`` in it:
    ``media.{key}``). ``form``: a posted form, or a plain mapping with a list per name."""
    picked: dict[str, list[str]] = {}
    getlist = getattr(form, "getlist", None)
    for key in keys:
        value = getlist(name.format(key=key)) if getlist else form.get(name.format(key=key))
        raw = value if isinstance(value, list) else [value]
        ids = [v.strip()[:64] for v in raw if isinstance(v, str) and v.strip()]
        if ids:
            picked[key] = list(dict.fromkeys(ids))[:MAX_PER_KEY]
    return picked


def _uuid(value: str) -> uuid.UUID | None:
    return media_refs.parse_id(value)


async def kinds_of(
    session: AsyncSession, agency_id: uuid.UUID, picked: Mapping[str, list[str]]
) -> dict[str, media_refs.Found]:
    """The media rows of the picked ids (by id as posted), in one statement."""
    ids = [i for ids in picked.values() for i in (_uuid(v) for v in ids) if i is not None]
    rows = await media_refs.load(session, agency_id, ids)
    return {str(media_id): found for media_id, found in rows.items()}


def items_of(
    picked: Mapping[str, list[str]], found: Mapping[str, media_refs.Found]
) -> dict[str, list[MediaIn]]:
    """The media items the service takes: each file's kind from its processed copy (an
    unknown id keeps the kind ``image`` and is refused by the service's check)."""
    items: dict[str, list[MediaIn]] = {}
    for key, ids in picked.items():
        for value in ids:
            row = found.get(value)
            kind = row.blob.kind if row is not None and row.blob is not None else "image"
            items.setdefault(key, []).append(MediaIn(kind=kind, media_id=value))
    return items


def expired(
    t: Translator,
    principal: Principal,
    picked: Mapping[str, list[str]],
    found: Mapping[str, media_refs.Found],
    *,
    at: datetime | None,
    zone: str,
) -> Problems:
    """Files whose usage rights end by ``at`` (None: now), by key."""
    problems: Problems = {}
    for key, ids in picked.items():
        for value in ids:
            row = found.get(value)
            if row is None or row.media.deleted_at is not None:
                continue
            media = row.media
            target = Target(brand_id=media.brand_id, location_id=media.location_id)
            if not allowed(principal, "media.read", target):
                continue  # said as unknown by the service's check
            if media.rights_expire_at is not None and media_service.rights_expired(media, at):
                problems.setdefault(key, []).append(
                    t.gettext(
                        "The usage rights of “%(name)s” end on %(date)s, before this would "
                        "be posted: choose another file.",
                        name=media.name,
                        date=t.format_date(media.rights_expire_at, zone),
                    )
                )
    return problems


async def checked(
    session: AsyncSession,
    t: Translator,
    principal: Principal,
    items: Mapping[str, list[MediaIn]],
    owner: media_refs.Owner,
    found: Mapping[str, media_refs.Found],
) -> Problems:
    """The service's own check of the items (usable by this owner and this person, ready,
    of their kind), each problem in words under its key; empty when all may be used."""
    try:
        await media_refs.check_references(session, principal, items, owner, prefix="media")
    except ValidationFailed as exc:
        problems: Problems = {}
        for problem in exc.errors:
            parts = problem.field.split(".")  # media.<key>.<index>.<field>
            key = parts[1] if len(parts) > 2 else "default"
            index = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1
            chosen = items.get(key, [])
            media_id = chosen[index].media_id if 0 <= index < len(chosen) else None
            row = found.get(media_id or "")
            words = _WORDS.get(problem.code)
            name = row.media.name if row is not None else ""
            message = t.gettext(words, name=name) if words and name else problem.message
            if problem.code == "media_not_found":
                message = t.gettext(NOT_FOUND)
            problems.setdefault(key, []).append(message)
        return problems
    return {}


def thumbs_for(
    platforms: Iterable[str], picked: Mapping[str, list[str]], cards: Iterable[Any]
) -> dict[str, list[Any]]:
    """Per platform, the thumbnails of the library files it would get (its own key's, else
    the shared ``default`` ones), for the preview; files the picker does not list show none."""
    by_id = {str(c.id): c.thumb for c in cards if c.thumb is not None}
    out: dict[str, list[Any]] = {}
    for platform in platforms:
        ids = picked.get(platform) or picked.get("default") or []
        found = [by_id[i] for i in ids if i in by_id]
        if found:
            out[platform] = found
    return out
