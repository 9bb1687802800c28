"""Bulk import and export of a brand's locations (CSV and JSON)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from services.api.deps import CurrentPrincipal, Session, SettingsDep, get_database
from services.api.problems import problems
from shared.db import retry
from shared.errors import AppError, FieldProblem, ValidationFailed
from shared.locations import csv_format, importer
from shared.locations.importer import ImportMode, ImportSource, SourceFormat
from shared.locations.repository import LocationFilter
from shared.locations.schemas import Status

router = APIRouter(prefix="/v1/brands/{brand_id}/locations", tags=["locations"])

_CSV_TYPES = frozenset(
    {
        "text/csv",
        "application/csv",
        "text/comma-separated-values",
        "text/plain",
        # What browsers on Windows send for a .csv file picked in a form.
        "application/vnd.ms-excel",
    }
)


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class ImportProblem(BaseModel):
    line: int | None = Field(
        description="CSV: the file's line (the header is line 1). JSON: the row's position "
        "counted from 1 (the field then reads rows[line - 1].<field>)."
    )
    field: str
    message: str
    code: str


class LocationImportOut(BaseModel):
    mode: ImportMode
    rows: int = Field(description="Rows in the file (blank lines not counted).")
    created: int
    updated: int = Field(description="Existing locations whose fields changed.")
    unchanged: int = Field(
        description="Rows equal to the stored location's fields: nothing written to the "
        "location (its memberships are counted apart)."
    )
    invalid: int = Field(description="Rows skipped because of the problems in `errors`.")
    errors: list[ImportProblem]
    groups_created: int
    memberships_added: int = Field(description="Group memberships added.")
    memberships_removed: int = Field(
        description="Group memberships removed: groups a location was in that its row's "
        "`groups` no longer names (only when the file carries `groups`)."
    )


FORMAT_DOC = "docs/location-import.md"

_IMPORT_DESCRIPTION = """
Create or update many locations of a brand at once, from CSV or JSON, up to the configured
number of rows per request (10,000 by default; more is answered `413 too_many_rows`).
The format in full, with examples: `{doc}` in the Chorus repository.

**Body**, one of:
- `text/csv`: a header line, then one location per line, UTF-8 (with or without a byte-order
  mark), comma-separated, quoted as spreadsheets do. Columns, in any order and any case:

{table}
- `application/json`: an array of location objects (the fields of `POST /v1/locations`
  without `brand_id`/`group_ids`, plus `groups`: a list of names), or `{"locations": [...]}`.
- `multipart/form-data` with the file in the field `file` (`.csv` or `.json`).

**Matching**: a row whose `external_ref` is already used in the brand updates that location;
a row without `external_ref` always creates one. Fields the file carries are set (an empty
value clears); fields it leaves out keep their value. Rows equal to what is stored are counted
`unchanged`.

**Groups**: when the file carries `groups`, each row's names are that location's whole set of
groups: missing groups are created, memberships not named are removed (an empty cell leaves
every group); the answer counts `memberships_added` and `memberships_removed`. A file without
`groups` leaves memberships alone. In CSV a group name containing {lookalikes} is a row problem
(`group_separator`: most likely names joined with the wrong separator) unless the brand
already has a group of that name.

**Modes**: `all_or_nothing` (default) writes nothing if any row is bad and answers `422`
`import_invalid` listing every problem (`line`, `field`, `message`, `code`); `valid_only` writes
the good rows and lists the bad ones in the `200` answer. CSV lines are counted as in the file
(header = line 1); JSON problems name `rows[i].<field>` with `line` = i + 1.
"""
_IMPORT_DESCRIPTION = (
    _IMPORT_DESCRIPTION.replace("{doc}", FORMAT_DOC)
    .replace("{table}", csv_format.reference_table())
    .replace("{lookalikes}", csv_format.lookalike_list())
)


async def _read_source(request: Request) -> ImportSource:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ValidationFailed(
                    "the multipart upload needs the file in a field named `file`",
                    errors=[FieldProblem("body.file", "missing file", "missing")],
                )
            file_format = _format_of(upload.content_type or "", upload.filename or "")
            return ImportSource(file_format, await upload.read())
    return ImportSource(_format_of(media_type, ""), await request.body())


def _format_of(media_type: str, filename: str) -> SourceFormat:
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "json"
    media = media_type.split(";", 1)[0].strip().lower()
    if media in _CSV_TYPES:
        return "csv"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    raise UnsupportedMediaType(
        f"cannot import {media or 'a body without Content-Type'}"
        f"{f' ({filename})' if filename else ''}; send text/csv, application/json, "
        "or multipart/form-data with a .csv or .json file in the field `file`"
    )


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {
                            "type": "object",
                            "properties": {
                                "locations": {"type": "array", "items": {"type": "object"}}
                            },
                            "required": ["locations"],
                        },
                    ]
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post(
    "/import",
    summary="Import locations (CSV or JSON)",
    description=_IMPORT_DESCRIPTION,
    responses=problems(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra={**_BODY_DOC, "x-permission": "location.import"},
)
async def import_locations(
    brand_id: uuid.UUID,
    request: Request,
    session: Session,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    mode: Annotated[
        ImportMode,
        Query(
            description="`all_or_nothing`: any bad row fails the import; `valid_only`: "
            "write the good rows, report the bad ones."
        ),
    ] = "all_or_nothing",
) -> LocationImportOut:
    source = await _read_source(request)
    # The body is read once, above; a deadlock with a concurrent writer re-runs the import
    # (from a savepoint, in this request's transaction), and only after a few tries is it a
    # 409 `concurrent_update`.
    result = await retry.in_savepoint(
        session,
        lambda: importer.import_locations(
            session, principal, brand_id, source, mode=mode, max_rows=settings.import_max_rows
        ),
        what="this import",
    )
    return LocationImportOut(
        mode=result.mode,
        rows=result.rows,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        invalid=result.invalid,
        errors=[
            ImportProblem(line=e.line, field=e.field, message=e.message, code=e.code)
            for e in result.errors
        ],
        groups_created=result.groups_created,
        memberships_added=result.memberships_added,
        memberships_removed=result.memberships_removed,
    )


@router.get(
    "/export",
    summary="Export locations as CSV",
    openapi_extra={"x-permission": "location.read"},
    description="The brand's locations in the import's CSV format (custom.* columns for every "
    "custom field key in use), streamed in creation order. Re-importing the file with "
    "`external_ref`s unchanged changes nothing. Takes the list endpoint's filters.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problems(401, 403, 404, 422),
    },
)
async def export_locations(
    brand_id: uuid.UUID,
    request: Request,
    session: Session,
    principal: CurrentPrincipal,
    group_id: uuid.UUID | None = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
) -> StreamingResponse:
    brand = await importer.export_brand(session, principal, brand_id)
    filters = LocationFilter(
        brand_id=brand.id, group_id=group_id, status=status_, country=country, city=city, q=q
    )
    filename = importer.export_filename(brand, datetime.now(UTC).date())
    return StreamingResponse(
        importer.export_csv(get_database(request), principal, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
