"""The import of a brand's locations from the browser: upload a CSV or JSON file, see what it
would do, then import it.

The preview is the importer itself (``shared.locations.importer.import_locations`` in
``valid_only`` mode) run under a savepoint that is always rolled back: what it would create,
update and leave unchanged, and every refused line with its field and reason, are exactly
what the import will do, and nothing is kept (the audit event and the after-commit work go
with the savepoint). The uploaded file waits in Redis for an hour under a random token bound
to the person and the brand; "Import" runs the importer on it for real."""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from services.api.deps import Redis, Session
from services.web.deps import Viewer
from services.web.i18n import N_, Translator
from services.web.rendering import redirect, render, translator
from services.web.savepoint import all_or_nothing
from shared.brands.models import Brand
from shared.config import Settings
from shared.db import retry
from shared.errors import FieldProblem, PayloadTooLarge, ValidationFailed
from shared.locations import csv_format, importer
from shared.locations.importer import ImportMode, ImportResult, ImportSource, SourceFormat

KEY = "chorus:web:location-import:{agency}:{user}:{token}"
KEEP_SECONDS = 3600
MAX_BYTES = 20 * 1024 * 1024
CSV_TYPES = frozenset(
    {"text/csv", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel"}
)


FIELD_MESSAGES = {
    "name": N_("Give the location a name of at most 200 characters."),
    "external_ref": N_("Keep the code to 100 characters."),
    "country": N_("Write a two-letter country code, such as US, DE or GR."),
    "time_zone": N_("Write a time zone name, such as Europe/Athens or America/New_York."),
    "phone": N_("Write a phone number of the location's country, such as +30 21 0123 4567."),
    "website": N_("Write a web address, such as https://example.com/store."),
    "status": N_("Choose active, paused or archived."),
}
TOO_LONG = N_("Keep this to %(max)s characters.")
"""What to write in each field, said the same way on the edit form and for an imported line."""
REASONS = {
    "missing": N_("This field is required."),
    "literal_error": N_("Choose active, paused or archived."),
    "extra_forbidden": N_("This field is not one of a location's: leave it out."),
}


def reason(t: Translator, problem: FieldProblem) -> str:
    """A refused line's reason in the reader's language where Chorus knows the rule; the
    importer's own words (English, as the API says them) for the rest."""
    field = problem.field.rsplit(".", 1)[-1]
    if problem.code == "string_too_long":
        limit = re.search(r"(\d+)", problem.message)
        if limit:
            return t.gettext(TOO_LONG, max=t.format_number(int(limit.group(1))))
    if problem.code == "duplicate":
        line = re.search(r"line (\d+)", problem.message)
        if line:
            return t.gettext(
                "This code is already on line %(line)s: a file names each location once.",
                line=t.format_number(int(line.group(1))),
            )
    if field == "name" and problem.code in ("missing", "string_too_short"):
        name_message = FIELD_MESSAGES["name"]  # a variable: Babel would extract the key
        return t.gettext(name_message)
    if problem.code in REASONS and (problem.code != "literal_error" or field == "status"):
        return t.gettext(REASONS[problem.code])
    if problem.code in ("value_error", "string_too_short") and field in FIELD_MESSAGES:
        return t.gettext(FIELD_MESSAGES[field])
    return problem.message


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


def form_context(brand: Brand) -> dict[str, Any]:
    return {
        "brand": brand,
        "problems": {},
        "columns": csv_format.STANDARD_COLUMNS,
        "required": csv_format.REQUIRED_COLUMNS,
        "result": None,
        "file_problems": [],
        "token": None,
        "filename": "",
        "imported": None,
    }


def _format_of(content_type: str, filename: str) -> SourceFormat | None:
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "json"
    media = content_type.split(";", 1)[0].strip().lower()
    if media in CSV_TYPES:
        return "csv"
    if media == "application/json":
        return "json"
    return None


def _key(viewer: Viewer, token: str) -> str:
    return KEY.format(agency=viewer.principal.agency_id, user=viewer.principal.user_id, token=token)


async def _keep(
    redis: Redis, viewer: Viewer, brand: Brand, filename: str, source: ImportSource
) -> str:
    token = secrets.token_urlsafe(24)
    value = json.dumps(
        {
            "brand_id": str(brand.id),
            "filename": filename,
            "format": source.format,
            "data": base64.b64encode(source.data).decode(),
        }
    )
    await redis.set(_key(viewer, token), value, ex=KEEP_SECONDS)
    return token


async def _kept(
    redis: Redis, viewer: Viewer, brand: Brand, token: str
) -> tuple[str, ImportSource] | None:
    if not token or len(token) > 100:
        return None
    raw = await redis.get(_key(viewer, token))
    if raw is None:
        return None
    value = json.loads(raw)
    if value.get("brand_id") != str(brand.id):
        return None
    fmt: SourceFormat = "json" if value["format"] == "json" else "csv"
    return str(value["filename"]), ImportSource(fmt, base64.b64decode(value["data"]))


async def _dry_run(
    session: Session, viewer: Viewer, brand: Brand, source: ImportSource, max_rows: int
) -> ImportResult:
    try:
        async with all_or_nothing(session):
            result = await importer.import_locations(
                session, viewer.principal, brand.id, source, mode="valid_only", max_rows=max_rows
            )
            raise _DryRun(result)
    except _DryRun as done:
        return done.result


def _page(
    request: Request,
    brand: Brand,
    *,
    status_code: int = 200,
    **values: Any,
) -> Response:
    context = form_context(brand)
    context.update(values)
    return render(request, "brand_locations/import.html", context, status_code=status_code)


async def preview(
    request: Request,
    viewer: Viewer,
    session: Session,
    redis: Redis,
    settings: Settings,
    brand: Brand,
) -> Response:
    form = await request.form()
    try:
        return await _preview_upload(request, viewer, session, redis, settings, brand, form)
    finally:
        await form.close()


async def _preview_upload(
    request: Request,
    viewer: Viewer,
    session: Session,
    redis: Redis,
    settings: Settings,
    brand: Brand,
    form: FormData,
) -> Response:
    t = translator(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problem = t.gettext("Choose a .csv or .json file.")
        return _page(request, brand, status_code=422, problems={"file": problem})
    filename = upload.filename[:200]
    fmt = _format_of(upload.content_type or "", filename)
    if fmt is None:
        problem = t.gettext("Choose a .csv or .json file (this one is neither).")
        return _page(request, brand, status_code=422, problems={"file": problem})
    data = await upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        problem = t.gettext("The file is larger than 20 MB: split it into smaller files.")
        return _page(request, brand, status_code=422, problems={"file": problem})
    source = ImportSource(fmt, data)
    return await _preview_of(request, viewer, session, redis, settings, brand, filename, source)


async def _preview_of(
    request: Request,
    viewer: Viewer,
    session: Session,
    redis: Redis,
    settings: Settings,
    brand: Brand,
    filename: str,
    source: ImportSource,
    *,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    try:
        result = await _dry_run(session, viewer, brand, source, settings.import_max_rows)
    except PayloadTooLarge:
        problem = t.gettext(
            "The file has more than %(max)s rows: split it into files of at most %(max)s rows.",
            max=t.format_number(settings.import_max_rows),
        )
        return _page(request, brand, status_code=422, problems={"file": problem})
    except ValidationFailed as exc:
        # The file as a whole is unreadable (no header, unknown columns, not CSV or JSON).
        problem = t.gettext("Nothing can be imported from this file: fix it and upload it again.")
        return _page(
            request,
            brand,
            status_code=422,
            filename=filename,
            file_problems=_problems(t, exc.errors) or [_problem_of_message(exc.message)],
            problems={"file": problem},
        )
    token = await _keep(redis, viewer, brand, filename, source)
    return _page(
        request,
        brand,
        status_code=status_code,
        result=result,
        file_problems=_problems(t, result.errors),
        token=token,
        filename=filename,
    )


def _problem_of_message(message: str) -> dict[str, Any]:
    return {"line": None, "field": "", "message": message}


def _problems(t: Translator, errors: list[FieldProblem]) -> list[dict[str, Any]]:
    return [{"line": e.line, "field": e.field, "message": reason(t, e)} for e in errors]


async def apply(
    request: Request,
    viewer: Viewer,
    session: Session,
    redis: Redis,
    settings: Settings,
    brand: Brand,
) -> Response:
    t = translator(request)
    form = await request.form()
    token = str(form.get("token", ""))
    mode: ImportMode = "valid_only" if form.get("mode") == "valid_only" else "all_or_nothing"
    kept = await _kept(redis, viewer, brand, token)
    if kept is None:
        problem = t.gettext("The file waited more than an hour: upload it again.")
        return _page(request, brand, status_code=422, problems={"file": problem})
    filename, source = kept
    try:
        async with all_or_nothing(session):
            result = await retry.in_savepoint(
                session,
                lambda: importer.import_locations(
                    session,
                    viewer.principal,
                    brand.id,
                    source,
                    mode=mode,
                    max_rows=settings.import_max_rows,
                ),
                what="this import",
            )
    except ValidationFailed:
        # The brand changed since the preview (a location took a code, a group was renamed):
        # the new preview says what now stands in the way.
        return await _preview_of(
            request, viewer, session, redis, settings, brand, filename, source, status_code=409
        )
    await redis.delete(_key(viewer, token))
    counts = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": result.invalid,
    }
    return redirect("/brand/locations/import?" + "&".join(f"{k}={v}" for k, v in counts.items()))


def imported_counts(values: dict[str, str]) -> dict[str, int] | None:
    """The counts the import redirect carries back to the form (shown once)."""
    counts: dict[str, int] = {}
    for key in ("created", "updated", "unchanged", "skipped"):
        raw = values.get(key, "")
        if not raw.isdigit() or len(raw) > 7:
            return None
        counts[key] = int(raw)
    return counts
