"""The media library in the web app (issue #17): ``/media`` for a location's people and
``/brand/media`` for head office (``services.web.media_scope``). The same pages serve both:

- the library: a grid of thumbnails (lazy-loaded, sized), search by name, filters by
  library, folder, tag, kind and status, each media's state (being prepared with its
  progress, failed with why, ready) and its rights; "recently deleted" with restore;
- upload: a plain multipart form of several files (``services.web.media_upload``; larger
  files go in pieces over ``/media/uploads``, ``routes/media_resumable.py``, with script);
- a media's page: preview, facts, name/folder/tags, focal point, rights expiry, where it is
  used, delete (refused while a post not yet ended uses it, those posts listed), restore;
- the picker (``templates/media/picker.html``): the choices for a location or brand as an
  HTML fragment, for pages that let people attach media.

Every object is read through ``shared.media.service`` (the policy decides, another agency's
media is the 404 page) and must belong to the page's scope. What a role may not do is not
offered: the upload form, the edit form and the delete button are shown by ``allowed``."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import FormData

from services.api.deps import Redis, Session, SettingsDep
from services.api.routes.media_files import MediaSigner, MediaStorage
from services.web import media_scope, media_upload, media_view, post_words
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.media_scope import Scope
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from services.web.security import CSP
from shared import clock
from shared.access.policy import authorize
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.identity.models import User
from shared.media import service as media_service
from shared.media.signing import MediaUrlSigner

router = web_router()

PAGE_SIZE = 48
PICKER_SIZE = 60
KINDS = ("image", "video", "gif")
STATUSES = ("processing", "ready", "failed")
DONE = {
    "uploaded": N_("Uploaded. Chorus is preparing the files; each shows here when ready."),
    "saved": N_("The changes are saved."),
    "deleted": N_("The media is deleted. You can restore it from “Recently deleted” for now."),
    "restored": N_("The media is back in the library."),
}
FOLDER_PROBLEM = N_("A folder is at most 200 characters, like Summer/2026.")
TAGS_PROBLEM = N_("Up to 20 tags of at most 50 characters each, separated by commas.")
FIELD_PROBLEMS = {
    "name": N_("Give it a name of 1 to 200 characters, on one line."),
    "folder": FOLDER_PROBLEM,
    "tags": TAGS_PROBLEM,
}
MEDIA_PAGE_CSP = CSP + "; media-src 'self'"
"""A media's page plays its video from our own signed link (the default CSP has no media)."""

_Q = Annotated[str, Query(max_length=200)]


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _by_field(problems: dict[str, str] | None) -> defaultdict[str, str]:
    """Problems by field; a field without one reads as "" in the templates."""
    return defaultdict(str, problems or {})


def _flash(t: Translator, done: str) -> str | None:
    return t.gettext(DONE[done]) if done in DONE else None


# The library ----------------------------------------------------------------------------------


def _read_filters(
    t: Translator, scope: Scope, values: dict[str, str]
) -> tuple[media_service.MediaFilter, dict[str, str], dict[str, str]]:
    """The service's filter from the page's query, the values as shown, and problems."""
    problems: dict[str, str] = {}
    library = scope.library(values.get("library", ""))
    f = scope.media_filter(library)
    shown = {"library": library}
    q = values.get("q", "").strip()
    tag = values.get("tag", "").strip()
    kind = values.get("kind", "").strip()
    status = values.get("status", "").strip()
    folder = values.get("folder", "").strip()
    if len(tag) > media_service.MAX_TAG:
        problems["tag"] = t.gettext("A tag is at most 50 characters.")
        tag = ""
    if kind and kind not in KINDS:
        problems["kind"] = t.gettext("Choose a kind from the list.")
        kind = ""
    if status and status not in STATUSES:
        problems["status"] = t.gettext("Choose a state from the list.")
        status = ""
    try:
        folder = media_service.clean_folder(folder) if folder else ""
    except ValidationFailed:
        problems["folder"] = t.gettext(FOLDER_PROBLEM)
        folder = ""
    shown.update(q=q, tag=tag, kind=kind, status=status, folder=folder)
    f = media_service.MediaFilter(
        brand_id=f.brand_id,
        location_id=f.location_id,
        agency_only=f.agency_only,
        usable_at_location=f.usable_at_location,
        folder=folder or None,
        tag=tag or None,
        q=q or None,
        kind=kind or None,
        status=status or None,
        deleted=values.get("deleted") == "1",
    )
    shown["deleted"] = "1" if f.deleted else ""
    return f, shown, problems


def _query(shown: dict[str, str], **more: str) -> str:
    kept = {k: v for k, v in {**shown, **more}.items() if v}
    return "?" + urlencode(kept) if kept else ""


async def _folders(
    session: Session, viewer: Viewer, scope: Scope, library: str
) -> list[tuple[str, int]]:
    """The library's folders. "Everything this location can use" is its own folders and
    its brand's shared ones, read as the two libraries they are."""
    principal = viewer.principal
    if scope.is_location and library == "all":
        counts: dict[str, int] = {}
        for part in ("own", "brand"):
            for name, n in await media_service.folders(
                session, principal, scope.media_filter(part)
            ):
                counts[name] = counts.get(name, 0) + n
        return sorted(counts.items())
    return await media_service.folders(session, principal, scope.media_filter(library))


def _cards(
    request: Request,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    viewer: Viewer,
    rows: list[media_service.MediaRow],
) -> list[media_view.MediaCard]:
    t = translator(request)
    now = clock.now()
    expires_at = media_view.link_expiry(settings, now)
    return [
        media_view.card(t, signer, row, zone=viewer.time_zone, now=now, expires_at=expires_at)
        for row in rows
    ]


async def _library_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    scope: Scope,
    values: dict[str, str],
    *,
    flash: str | None = None,
    upload_problems: dict[str, str] | None = None,
    refused: list[media_upload.Refusal] | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    f, shown, problems = _read_filters(t, scope, values)
    library = shown["library"]
    page = await media_service.list_media(
        session, viewer.principal, f, limit=PAGE_SIZE, cursor=values.get("after") or None
    )
    brand_id, location_id = scope.upload_owner(library)
    may_upload = not f.deleted and media_scope.may(viewer, "media.create", brand_id, location_id)
    context: dict[str, Any] = {
        "scope": scope,
        "shown": shown,
        "problems": _by_field(problems),
        "cards": _cards(request, settings, signer, viewer, page.items),
        "folders": await _folders(session, viewer, scope, library),
        "libraries": [(key, media_scope.LIBRARY_NAMES[key]) for key in scope.libraries],
        "kinds": [(k, media_view.KIND_NAMES[k]) for k in KINDS],
        "statuses": [(s, media_view.STATUS_NAMES[s]) for s in STATUSES],
        "next_url": scope.base + _query(shown, after=page.next_cursor)
        if page.next_cursor
        else None,
        "first_url": scope.base + _query(shown) if values.get("after") else None,
        "here": scope.base + _query(shown),
        "deleted_url": scope.base + _query({"library": library, "deleted": "1"}),
        "library_url": scope.base + _query({"library": library}),
        "may_upload": may_upload,
        "restorable": {
            row.media.id
            for row in page.items
            if f.deleted
            and media_scope.may(viewer, "media.delete", row.media.brand_id, row.media.location_id)
        },
        "upload_problems": _by_field(upload_problems),
        "refused": refused or [],
        "upload_limit": media_view.size_words(t, media_upload.one_request_limit(settings)),
        "upload_limit_bytes": media_upload.one_request_limit(settings),
        "chunk_bytes": min(
            settings.media_resumable_part_bytes, settings.max_request_bytes - 64 * 1024
        ),
        "flash": flash,
    }
    return render(request, "media/library.html", context, status_code=status_code)


def _on_brand_page(request: Request) -> bool:
    """Head office's copy of a page (``/brand/media…``) or a location's (``/media…``): one
    handler serves both paths, and the scope decides what it shows."""
    return request.url.path.startswith("/brand/")


@router.get("/media")
@router.get("/brand/media")
async def library(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
    library: _Q = "",
    q: _Q = "",
    folder: _Q = "",
    tag: _Q = "",
    kind: _Q = "",
    status: _Q = "",
    deleted: _Q = "",
    after: Annotated[str, Query(max_length=500)] = "",
    done: _Q = "",
) -> Response:
    scope = media_scope.scope_of(viewer, brand_page=_on_brand_page(request))
    values = {"library": library, "q": q, "folder": folder, "tag": tag, "kind": kind,
              "status": status, "deleted": deleted, "after": after}  # fmt: skip
    t = translator(request)
    return await _library_page(
        request, viewer, session, settings, signer, scope, values, flash=_flash(t, done)
    )


# Upload (no script: one form, several files) -------------------------------------------------


def _owner_details(
    t: Translator, form_values: dict[str, str], brand_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
) -> tuple[media_service.MediaDetails, dict[str, str]]:  # fmt: skip
    problems: dict[str, str] = {}
    folder, tags = "", tuple[str, ...]()
    try:
        folder = media_service.clean_folder(form_values.get("folder", ""))
    except ValidationFailed:
        problems["upload_folder"] = t.gettext(FOLDER_PROBLEM)
    try:
        tags = media_service.clean_tags(form_values.get("tags", "").split(","))
    except ValidationFailed:
        problems["upload_tags"] = t.gettext(TAGS_PROBLEM)
    details = media_service.MediaDetails(
        name="", brand_id=brand_id, location_id=location_id, folder=folder, tags=tags
    )
    return details, problems


async def _upload(
    request: Request,
    viewer: Viewer,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    storage: MediaStorage,
    signer: MediaUrlSigner,
    scope: Scope,
) -> Response:
    form = await request.form()  # read once, by the CSRF check: files spooled to disk
    try:
        return await _store_upload(
            request, viewer, session, redis, settings, storage, signer, scope, form
        )
    finally:
        await form.close()  # the spooled files' handles (and temporary files) go now


async def _store_upload(
    request: Request,
    viewer: Viewer,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    storage: MediaStorage,
    signer: MediaUrlSigner,
    scope: Scope,
    form: FormData,
) -> Response:
    t = translator(request)
    texts = {k: str(form.get(k, ""))[:2000] for k in ("library", "folder", "tags")}
    library = scope.library(texts["library"])
    brand_id, location_id = scope.upload_owner(library)
    authorize(viewer.principal, "media.create", media_service.target_of(brand_id, location_id))
    values = {"library": library}
    details, problems = _owner_details(t, texts, brand_id, location_id)
    files = media_upload.chosen_files(list(form.getlist("file")))
    if not files:
        problems["file"] = t.gettext("Choose at least one photo or video.")
    if problems:
        return await _library_page(
            request, viewer, session, settings, signer, scope, values,
            upload_problems=problems, status_code=422,
        )  # fmt: skip
    outcome = await media_upload.store_files(
        session, redis, settings, storage, viewer.principal, t, files, details
    )
    if outcome.refused:
        flash = (
            t.ngettext(
                "%(num)s file is uploaded and being prepared.",
                "%(num)s files are uploaded and being prepared.",
                len(outcome.stored),
            )
            if outcome.stored
            else None
        )
        status = outcome.refused[0].status if not outcome.stored else 200
        return await _library_page(
            request, viewer, session, settings, signer, scope, values,
            flash=flash, refused=outcome.refused, status_code=status,
        )  # fmt: skip
    if len(outcome.stored) == 1:
        return redirect(scope.link(outcome.stored[0].id) + "?done=uploaded")
    return redirect(scope.base + _query({"library": library, "done": "uploaded"}))


@router.post("/media/upload")
@router.post("/brand/media/upload")
async def upload(
    request: Request,
    viewer: SignedIn,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    storage: MediaStorage,
    signer: MediaSigner,
) -> Response:
    scope = media_scope.scope_of(viewer, brand_page=_on_brand_page(request))
    return await _upload(request, viewer, session, redis, settings, storage, signer, scope)


# The picker (before /media/{media_id}) ---------------------------------------------------------


async def picker_choices(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    scope: Scope,
    *,
    input_name: str = "media_id",
    multiple: bool = False,
    selected: tuple[str, ...] = (),
    q: str = "",
    tag: str = "",
    kind: str = "",
) -> dict[str, Any]:
    """The picker partial's context (``{% include "media/picker.html" %}`` with it in
    ``picker``): the ready media a post of this scope may use, newest first."""
    library = scope.libraries[0]
    base = scope.media_filter(library)
    f = media_service.MediaFilter(
        brand_id=base.brand_id,
        location_id=base.location_id,
        agency_only=base.agency_only,
        usable_at_location=base.usable_at_location,
        q=q.strip() or None,
        tag=tag.strip()[: media_service.MAX_TAG] or None,
        kind=kind if kind in KINDS else None,
        status="ready",
    )
    page = await media_service.list_media(
        session, viewer.principal, f, limit=PICKER_SIZE, cursor=None
    )
    return {
        "input_name": input_name,
        "multiple": multiple,
        "selected": set(selected),
        "cards": _cards(request, settings, signer, viewer, page.items),
        "library_url": scope.base,
    }


async def _picker(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    scope: Scope,
    params: dict[str, str],
) -> Response:
    name = params.get("name", "") or "media_id"
    if not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        name = "media_id"
    picker = await picker_choices(
        request, viewer, session, settings, signer, scope,
        input_name=name, multiple=params.get("multiple") == "1",
        selected=tuple(params.get("selected", "").split(",")),
        q=params.get("q", ""), tag=params.get("tag", ""), kind=params.get("kind", ""),
    )  # fmt: skip
    return render(request, "media/picker.html", {"picker": picker})


@router.get("/media/picker")
@router.get("/brand/media/picker")
async def picker(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
    name: Annotated[str, Query(max_length=60)] = "",
    multiple: _Q = "",
    selected: Annotated[str, Query(max_length=4000)] = "",
    q: _Q = "",
    tag: _Q = "",
    kind: _Q = "",
) -> Response:
    scope = media_scope.scope_of(viewer, brand_page=_on_brand_page(request))
    params = {"name": name, "multiple": multiple, "selected": selected, "q": q, "tag": tag,
              "kind": kind}  # fmt: skip
    return await _picker(request, viewer, session, settings, signer, scope, params)


# One media ------------------------------------------------------------------------------------


async def _media(
    viewer: Viewer, session: Session, scope: Scope, media_id: str, action: str = "media.read"
) -> media_service.MediaRow:
    found = _uuid(media_id)
    if found is None:
        raise NotFound("media not found")
    row = await media_service.get_media(session, viewer.principal, found, action, deleted=True)
    if not scope.owns(row.media):
        raise NotFound("media not found")
    return row


def _form_values(row: media_service.MediaRow, t: Translator, zone: str) -> dict[str, str]:
    media = row.media
    until = ""
    if media.rights_expire_at is not None:
        last = (media.rights_expire_at - timedelta(microseconds=1)).astimezone(ZoneInfo(zone))
        until = last.date().isoformat()
    return {
        "name": media.name,
        "folder": media.folder,
        "tags": ", ".join(media.tags),
        "focal_x": _percent(media.focal_x),
        "focal_y": _percent(media.focal_y),
        "rights_until": until,
    }


def _percent(value: float) -> str:
    return f"{round(value * 100, 1):g}"


async def _uploader(session: Session, row: media_service.MediaRow) -> str:
    if row.media.uploaded_by is None:
        return ""
    found = (
        await session.execute(
            select(User.full_name, User.email).where(User.id == row.media.uploaded_by)
        )
    ).first()
    return (found.full_name or found.email) if found else ""


async def _media_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    scope: Scope,
    row: media_service.MediaRow,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    media, blob = row.media, row.blob
    zone = viewer.time_zone
    now = clock.now()
    expires_at = media_view.link_expiry(settings, now)
    waiting, uses = await media_service.usage(session, viewer.principal, media.id)
    facts = blob.facts if blob else {}
    context: dict[str, Any] = {
        "scope": scope,
        "media": media,
        "card": media_view.card(t, signer, row, zone=zone, now=now, expires_at=expires_at),
        "file_url": media_view.file_link(signer, row, expires_at),
        "poster_url": media_view.poster_link(signer, row, expires_at),
        "preview": media_view.display_size(blob, 960) if blob else None,
        "facts": facts,
        "size": media_view.size_words(t, blob.size_bytes if blob else media.upload_size),
        "duration": media_view.duration_words(t, float(facts["duration_seconds"]))
        if facts.get("duration_seconds")
        else "",
        "uploaded_on": t.format_date(media.created_at, zone),
        "uploaded_by": await _uploader(session, row),
        "values": values or _form_values(row, t, zone),
        "problems": _by_field(problems),
        "posts": [u for u in uses if u["kind"] == "post"],
        "versions": [u for u in uses if u["kind"] == "template_version"],
        "waiting": waiting,
        "post_status_names": post_words.STATUS_NAMES,
        "platform_names": post_words.PLATFORM_NAMES,
        "when": lambda instant: t.format_datetime(instant, zone, "short") if instant else "",
        "may_edit": media.deleted_at is None
        and media_scope.may(viewer, "media.update", media.brand_id, media.location_id),
        "may_delete": media_scope.may(viewer, "media.delete", media.brand_id, media.location_id),
        "flash": flash,
    }
    return render(
        request,
        "media/media.html",
        context,
        status_code=status_code,
        headers={"Content-Security-Policy": MEDIA_PAGE_CSP},
    )


@router.get("/media/{media_id}")
@router.get("/brand/media/{media_id}")
async def media_page(
    request: Request,
    media_id: str,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
    done: _Q = "",
) -> Response:
    scope = media_scope.scope_of(viewer, brand_page=_on_brand_page(request))
    row = await _media(viewer, session, scope, media_id)
    flash = _flash(translator(request), done)
    return await _media_page(request, viewer, session, settings, signer, scope, row, flash=flash)


def _read_edit(
    t: Translator, values: dict[str, str], zone: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's changes from the form, and each problem by its field."""
    changes: dict[str, Any] = {
        "name": values["name"],
        "folder": values["folder"],
        "tags": values["tags"].split(","),
    }
    problems: dict[str, str] = {}
    point: list[float] = []
    for axis in ("focal_x", "focal_y"):
        try:
            number = float(values[axis].strip().replace(",", ".") or "50")
        except ValueError:
            number = -1.0
        if not 0 <= number <= 100:
            problems[axis] = t.gettext("A number from 0 to 100.")
        point.append(number / 100)
    if not problems:
        changes["focal_point"] = {"x": point[0], "y": point[1]}
    until = values["rights_until"].strip()
    if until:
        try:
            last = date.fromisoformat(until)
        except ValueError:
            problems["rights_until"] = t.gettext("A date like 2027-06-30, or leave it empty.")
        else:
            ends = datetime.combine(last + timedelta(days=1), time.min, ZoneInfo(zone))
            changes["rights_expire_at"] = ends.astimezone(UTC)
    else:
        changes["rights_expire_at"] = None
    return changes, problems


async def _edit(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    scope: Scope,
    media_id: str,
) -> Response:
    t = translator(request)
    row = await _media(viewer, session, scope, media_id, "media.update")
    form = await request.form()
    fields = ("name", "folder", "tags", "focal_x", "focal_y", "rights_until")
    values = {k: str(form.get(k, ""))[:2000] for k in fields}
    changes, problems = _read_edit(t, values, viewer.time_zone)
    if not problems:
        try:
            await media_service.update_media(session, viewer.principal, row.media.id, changes)
        except ValidationFailed as exc:
            for problem in exc.errors:
                name = problem.field.removeprefix("body.").split(".", 1)[0]
                problems[name] = t.gettext(FIELD_PROBLEMS.get(name, N_("Check this value.")))
    if problems:
        return await _media_page(
            request, viewer, session, settings, signer, scope, row,
            values=values, problems=problems, status_code=422,
        )  # fmt: skip
    return redirect(scope.link(row.media.id) + "?done=saved")


@router.post("/media/{media_id}/edit")
@router.post("/brand/media/{media_id}/edit")
async def edit(
    request: Request,
    media_id: str,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
) -> Response:
    scope = media_scope.scope_of(viewer, brand_page=_on_brand_page(request))
    return await _edit(request, viewer, session, settings, signer, scope, media_id)


async def _delete(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: SettingsDep,
    signer: MediaUrlSigner,
    scope: Scope,
    media_id: str,
) -> Response:
    t = translator(request)
    row = await _media(viewer, session, scope, media_id, "media.delete")
    try:
        await media_service.delete_media(session, settings, viewer.principal, row.media.id)
    except Conflict as exc:
        if exc.error_code != "media_in_use":
            raise
        waiting = int(exc.extra.get("posts_not_ended", 0))
        problem = t.ngettext(
            "%(num)s post not yet published uses this media. Change or cancel it first.",
            "%(num)s posts not yet published use this media. Change or cancel them first.",
            waiting,
        )
        return await _media_page(
            request, viewer, session, settings, signer, scope, row,
            problems={"delete": problem}, status_code=409,
        )  # fmt: skip
    library = "own" if scope.is_location and row.media.location_id else ""
    if not scope.is_location and row.media.brand_id is None:
        library = "agency"
    return redirect(scope.base + _query({"library": library, "done": "deleted"}))


@router.post("/media/{media_id}/delete")
@router.post("/brand/media/{media_id}/delete")
async def delete(
    request: Request,
    media_id: str,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    signer: MediaSigner,
) -> Response:
    scope = media_scope.scope_of(viewer, brand_page=_on_brand_page(request))
    return await _delete(request, viewer, session, settings, signer, scope, media_id)


async def _restore(viewer: Viewer, session: Session, scope: Scope, media_id: str) -> Response:
    row = await _media(viewer, session, scope, media_id, "media.delete")
    await media_service.restore_media(session, viewer.principal, row.media.id)
    return redirect(scope.link(row.media.id) + "?done=restored")


@router.post("/media/{media_id}/restore")
@router.post("/brand/media/{media_id}/restore")
async def restore(request: Request, media_id: str, viewer: SignedIn, session: Session) -> Response:
    scope = media_scope.scope_of(viewer, brand_page=_on_brand_page(request))
    return await _restore(viewer, session, scope, media_id)
