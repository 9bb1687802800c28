"""Bulk import of a brand's locations from CSV or JSON, and its mirror, the CSV export.

An import runs in three steps: parse (CSV or JSON into rows, each with the line the user sees
in the file), validate (every row through ``LocationFields``, the rules and messages of the
REST API, so a bad value reads the same in both), write (bulk statements: one upsert for all
rows, one for missing groups, one for memberships; never one INSERT per row). It flushes only;
the request commits.

Each bulk statement takes its rows in key order (locations by ``external_ref``, groups by
name, memberships by group and location), so concurrent imports of overlapping rows wait for
each other instead of deadlocking; the route re-runs an import that still loses a deadlock
(``shared.db.retry``).

What a re-import does:

- A row with an ``external_ref`` already used in the brand updates that location; a row
  without ``external_ref`` always creates a new one.
- The fields the file carries (the CSV's columns, the keys of the JSON rows; a
  ``custom.<key>`` column means ``custom_fields``, replaced as a whole) are set on every row,
  an empty value clearing it to its default. Fields the file leaves out keep their current
  value on existing locations.
- A row identical to the stored location is left untouched (``updated_at`` too) and counted
  as ``unchanged``, so re-importing an export changes nothing.
- Groups are a field like the others: when the file carries them (a ``groups`` column, a
  JSON row's ``groups`` key), the row's names are the location's whole set of groups.
  Missing groups of the brand are created (names compared without regard to case), the
  location joins the groups its row names and leaves the brand's groups it does not (an
  empty cell leaves them all). A file without groups leaves memberships as they are. The
  answer counts ``memberships_added`` and ``memberships_removed``.
- A CSV groups cell holding a name with a character other tools separate lists with (``,``
  ``/`` ``|`` or a tab) is a row problem, unless the brand already has a group of exactly
  that name: "North, South" is far more often two groups written with the wrong separator
  than one group, and creating it would be silent and hard to undo. A group whose name
  really holds such a character is created first (``POST /v1/location-groups``) or imported
  through JSON, where ``groups`` is a list.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import orjson
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from shared import csvwriter
from shared.access.principal import Principal
from shared.audit import service as audit
from shared.billing import entitlements as billing
from shared.brands import service as brand_service
from shared.brands.models import Brand
from shared.db import Database
from shared.db.tenancy import set_tenant
from shared.errors import FieldProblem, PayloadTooLarge, ValidationFailed
from shared.ids import new_id
from shared.locations import csv_format, repository
from shared.locations.fields import DATA_COLUMNS
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.locations.repository import LocationFilter
from shared.locations.schemas import LocationFields

ImportMode = Literal["all_or_nothing", "valid_only"]
SourceFormat = Literal["csv", "json"]

MAX_GROUPS_PER_ROW = 50
MAX_GROUP_NAME = 200
EXPORT_BATCH_SIZE = 1000
REPLAN_AFTER_CREATED = 1000

_FIELD_NAMES = frozenset(LocationFields.model_fields)
_UPDATABLE = (*DATA_COLUMNS, "custom_fields", "status")
"""Columns an upsert may set, in statement order (``external_ref`` is the conflict key)."""


@dataclass(frozen=True, slots=True)
class ImportSource:
    """The file as the transport received it; ``format`` comes from its content type."""

    format: SourceFormat
    data: bytes


@dataclass(frozen=True, slots=True)
class ImportResult:
    mode: ImportMode
    rows: int
    created: int
    updated: int
    unchanged: int
    invalid: int
    errors: list[FieldProblem]
    groups_created: int
    memberships_added: int
    memberships_removed: int


@dataclass(slots=True)
class _Row:
    line: int
    prefix: str
    """What goes before a field name in messages: ``""`` for CSV, ``"rows[3]."`` for JSON."""
    data: dict[str, Any]
    groups: list[str] | None
    """The location's groups; None when the file does not carry them (memberships kept)."""
    problems: list[FieldProblem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Parsed:
    rows: list[_Row]
    provided: frozenset[str]
    """The ``LocationFields`` fields the file carries; only these are set on existing rows."""
    header: csv_format.Header | None = None


@dataclass(frozen=True, slots=True)
class _Valid:
    line: int
    fields: LocationFields
    groups: list[str] | None
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class _Lookalike:
    """A CSV group name that may be several names run together (see the module doc)."""

    line: int
    name: str
    separator: str


@dataclass(frozen=True, slots=True)
class _Checked:
    rows: int
    valid: list[_Valid]
    errors: list[FieldProblem]
    invalid: int
    provided: frozenset[str]
    lookalikes: list[_Lookalike] = field(default_factory=list)


def _invalid(message: str, problems: list[FieldProblem]) -> ValidationFailed:
    return ValidationFailed(message, code="import_invalid", errors=problems)


def _too_many_rows(max_rows: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the file has more than {max_rows} rows, the most one import takes; "
        f"split it into files of at most {max_rows} rows",
        code="too_many_rows",
        extra={"max_rows": max_rows},
    )


def _decode(data: bytes) -> str:
    """UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = (
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line} is not "
            'valid UTF-8); save it as UTF-8, e.g. "CSV UTF-8" in Excel'
        )
        raise _invalid(message, [FieldProblem("file", message, "invalid_encoding", line)]) from None


# Parsing -----------------------------------------------------------------------------------


def parse_csv(data: bytes, max_rows: int) -> _Parsed:
    """Rows with the line they start on; the header is line 1, a quoted field may span lines.

    Blank lines (and lines of only empty cells, as spreadsheets leave them) are skipped.
    """
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    header: csv_format.Header | None = None
    rows: list[_Row] = []
    end_of_previous = 0
    try:
        for cells in reader:
            line = end_of_previous + 1
            end_of_previous = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                _refuse_nul_in_header(cells)
                header, problems = csv_format.parse_header(cells)
                if problems:
                    raise _invalid(_header_message(problems), problems)
                continue
            if len(rows) == max_rows:
                raise _too_many_rows(max_rows)
            rows.append(_csv_row(header, cells, line))
    except csv.Error as exc:
        line = end_of_previous + 1
        message = f"the file is not readable as CSV from line {line}: {exc}"
        raise _invalid(message, [FieldProblem("file", message, "invalid_csv", line)]) from None
    if header is None:
        message = (
            "the file is empty; its first line must be the header, with at least the columns "
            + ", ".join(csv_format.REQUIRED_COLUMNS)
        )
        raise _invalid(message, [FieldProblem("file", message, "empty_file", 1)])
    return _Parsed(rows, header.field_keys, header)


def _header_message(problems: list[FieldProblem]) -> str:
    first = problems[0].message
    more = f" (and {len(problems) - 1} more problem(s), see errors)" if len(problems) > 1 else ""
    return f"the header line is not usable: {first}{more}"


_NUL = "\x00"
_NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def _refuse_nul_in_header(cells: list[str]) -> None:
    problems = [
        FieldProblem(
            f"column {index}", f"column {index} of the header {_NUL_MESSAGE}", "contains_nul", 1
        )
        for index, cell in enumerate(cells, start=1)
        if _NUL in cell
    ]
    if problems:
        raise _invalid(_header_message(problems), problems)


def _nul_paths(value: Any, path: str = "") -> list[str]:
    """Where a JSON row holds U+0000 (in a key or a string): PostgreSQL cannot store it."""
    if isinstance(value, str):
        return [path] if _NUL in value else []
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if _NUL in str(key):
                found.append(name.replace(_NUL, "\\u0000"))
            else:
                found.extend(_nul_paths(item, name))
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}[{i}]")]
    return []


def _csv_row(header: csv_format.Header, cells: list[str], line: int) -> _Row:
    data, groups = csv_format.row_fields(header, cells)
    row = _Row(line, "", data, groups if header.has_groups else None)
    for column, cell in zip(header.columns, cells, strict=False):
        if _NUL in cell:
            row.problems.append(
                FieldProblem(column.title, f"{column.title} {_NUL_MESSAGE}", "contains_nul", line)
            )
    extra = cells[len(header.columns) :]
    if any(cell.strip() for cell in extra):
        row.problems.append(
            FieldProblem(
                "row",
                f"the line has {len(cells)} cells but the header has {len(header.columns)} "
                "columns; quote values that contain commas",
                "too_many_cells",
                line,
            )
        )
    return row


def parse_json(data: bytes, max_rows: int) -> _Parsed:
    """A JSON array of row objects, or ``{"locations": [...]}``. Row ``i`` (from 0) is
    reported as field ``rows[i].<field>`` on line ``i + 1``."""
    try:
        document = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        message = f"the body is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        raise _invalid(
            message, [FieldProblem("body", message, "invalid_json", exc.lineno)]
        ) from None
    if isinstance(document, dict) and set(document) == {"locations"}:
        document = document["locations"]
    if not isinstance(document, list):
        message = 'send a JSON array of locations, or {"locations": [...]}'
        raise _invalid(message, [FieldProblem("body", message, "invalid_json")])
    if len(document) > max_rows:
        raise _too_many_rows(max_rows)
    rows: list[_Row] = []
    provided: set[str] = set(csv_format.REQUIRED_COLUMNS)
    for index, item in enumerate(document):
        prefix = f"rows[{index}]."
        line = index + 1
        if not isinstance(item, dict):
            row = _Row(line, prefix, {}, None)
            row.problems.append(
                FieldProblem(
                    f"rows[{index}]", "each row must be a JSON object", "not_an_object", line
                )
            )
            rows.append(row)
            continue
        data_ = dict(item)
        raw_groups = data_.pop("groups", None)
        row = _Row(line, prefix, data_, None)
        if raw_groups is not None:
            if isinstance(raw_groups, list) and all(isinstance(g, str) for g in raw_groups):
                row.groups = [g.strip() for g in raw_groups if g.strip()]
            else:
                row.problems.append(
                    FieldProblem(
                        f"{prefix}groups", "must be a list of group names", "invalid_groups", line
                    )
                )
        row.problems.extend(
            FieldProblem(f"{prefix}{name}", f"{prefix}{name} {_NUL_MESSAGE}", "contains_nul", line)
            for name in _nul_paths(item)
        )
        provided.update(key for key in data_ if key in _FIELD_NAMES)
        rows.append(row)
    return _Parsed(rows, frozenset(provided))


# Validation --------------------------------------------------------------------------------

_QUOTED = re.compile(r"'([^']*)'")


def _field_name(row: _Row, loc: tuple[int | str, ...], message: str, parsed: _Parsed) -> str:
    if not loc:
        # The one model-level rule: the phone must be valid for the row's country.
        name = "phone" if "phone" in message else "row"
    else:
        name = ".".join(str(part) for part in loc)
    if name == "custom_fields" and parsed.header is not None:
        # Name the CSV column the user can find, when the message names the key.
        for quoted in _QUOTED.findall(message):
            column = parsed.header.custom_column(quoted)
            if column is not None:
                return column
    return f"{row.prefix}{name}"


def _check_groups(row: _Row) -> None:
    if row.groups is None:
        return
    if len(row.groups) > MAX_GROUPS_PER_ROW:
        row.problems.append(
            FieldProblem(
                f"{row.prefix}groups",
                f"at most {MAX_GROUPS_PER_ROW} groups per location ({len(row.groups)})",
                "too_many_groups",
                row.line,
            )
        )
    for name in row.groups:
        if csv_format.GROUP_SEPARATOR in name:  # only a JSON list can hold one
            row.problems.append(
                FieldProblem(
                    f"{row.prefix}groups",
                    f"group name '{name[:40]}' cannot contain '{csv_format.GROUP_SEPARATOR}' "
                    "(CSV files separate group names with it); give each group as its own "
                    "list item",
                    "invalid_group",
                    row.line,
                )
            )
        if len(name) > MAX_GROUP_NAME:
            row.problems.append(
                FieldProblem(
                    f"{row.prefix}groups",
                    f"group name '{name[:40]}…' is longer than {MAX_GROUP_NAME} characters",
                    "invalid_group",
                    row.line,
                )
            )


def _ref_of(row: _Row, fields: LocationFields | None) -> str | None:
    if fields is not None:
        return fields.external_ref
    raw = row.data.get("external_ref")
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    return None


def validate(parsed: _Parsed) -> _Checked:
    """Every row through ``LocationFields``; every problem of every row is kept.

    A later row repeating an ``external_ref`` is an error naming the earlier line: one file
    describes each location once.
    """
    valid: list[_Valid] = []
    errors: list[FieldProblem] = []
    lookalikes: list[_Lookalike] = []
    invalid = 0
    first_line_of: dict[str, int] = {}
    for row in parsed.rows:
        fields: LocationFields | None = None
        if row.data or not row.problems:
            try:
                fields = LocationFields.model_validate(row.data)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
                    name = _field_name(row, tuple(err["loc"]), message, parsed)
                    row.problems.append(FieldProblem(name, message, err["type"], row.line))
        _check_groups(row)
        if parsed.header is not None:
            lookalikes.extend(_lookalikes(row))
        ref = _ref_of(row, fields)
        if ref is not None:
            first = first_line_of.setdefault(ref, row.line)
            if first != row.line:
                row.problems.append(
                    FieldProblem(
                        f"{row.prefix}external_ref",
                        f"external_ref '{ref}' is already used on line {first}; "
                        "a file may describe each location only once",
                        "duplicate",
                        row.line,
                    )
                )
        if row.problems:
            invalid += 1
            errors.extend(row.problems)
        elif fields is not None:
            valid.append(_Valid(row.line, fields, row.groups, new_id()))
    return _Checked(len(parsed.rows), valid, errors, invalid, parsed.provided, lookalikes)


def _lookalikes(row: _Row) -> list[_Lookalike]:
    found: list[_Lookalike] = []
    for name in row.groups or ():
        separator = csv_format.lookalike_separator(name)
        if separator is not None:
            found.append(_Lookalike(row.line, name, separator))
    return found


def _lookalike_problem(item: _Lookalike) -> FieldProblem:
    parts = [part.strip() for part in item.name.split(item.separator) if part.strip()]
    suggestion = f"{csv_format.GROUP_SEPARATOR} ".join(parts)
    shown = item.name.replace("\t", "\\t")
    return FieldProblem(
        csv_format.GROUPS_COLUMN,
        f"group name '{shown}' looks like several names separated by "
        f"{csv_format.separator_label(item.separator)}; separate group names with "
        f"'{csv_format.GROUP_SEPARATOR}' (e.g. '{suggestion}'), or, if '{shown}' is the name "
        "of one group, create that group first (POST /v1/location-groups) and import again",
        "group_separator",
        item.line,
    )


async def _refuse_lookalike_groups(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID, checked: _Checked
) -> _Checked:
    """Rows naming a lookalike group the brand does not have become invalid rows."""
    if not checked.lookalikes:
        return checked
    lowered = sorted({item.name.lower() for item in checked.lookalikes})
    existing = await _groups_named(session, agency_id, brand_id, lowered)
    problems = [
        _lookalike_problem(item) for item in checked.lookalikes if item.name.lower() not in existing
    ]
    if not problems:
        return checked
    bad_lines = {p.line for p in problems}
    valid = [row for row in checked.valid if row.line not in bad_lines]
    return replace(
        checked,
        valid=valid,
        # Stable: each row's problems stay together, rows in file order.
        errors=sorted([*checked.errors, *problems], key=lambda p: p.line or 0),
        invalid=checked.invalid + len(checked.valid) - len(valid),
    )


def check(source: ImportSource, max_rows: int) -> _Checked:
    """Parse and validate (CPU only, no I/O)."""
    parsed = (
        parse_csv(source.data, max_rows)
        if source.format == "csv"
        else parse_json(source.data, max_rows)
    )
    return validate(parsed)


# Writing -----------------------------------------------------------------------------------


async def import_locations(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    source: ImportSource,
    *,
    mode: ImportMode,
    max_rows: int,
) -> ImportResult:
    """Import ``source`` into the brand. ``all_or_nothing`` raises ``import_invalid`` (422)
    listing every problem when any row is bad; ``valid_only`` writes the good rows and
    reports the bad ones."""
    await brand_service.get_brand(session, principal, brand_id, "location.import")
    # Validating 10,000 rows takes a few hundred milliseconds of CPU: a worker thread keeps
    # the event loop answering other requests meanwhile.
    checked = await asyncio.to_thread(check, source, max_rows)
    checked = await _refuse_lookalike_groups(session, principal.agency_id, brand_id, checked)
    if checked.invalid and mode == "all_or_nothing":
        raise ValidationFailed(
            f"{checked.invalid} of {checked.rows} rows are invalid, so nothing was imported; "
            "fix the rows listed in `errors` (line numbers as in your file) or import with "
            "mode=valid_only to write the valid rows and skip the rest",
            code="import_invalid",
            errors=checked.errors,
            extra={"rows": checked.rows, "invalid": checked.invalid},
        )
    created = updated = groups_created = added = removed = 0
    if checked.valid:
        # Billing (issue #8): the active count before, to refuse an import over the plan.
        active_before = await billing.active_locations(session, principal.agency_id)
        ids, created, updated = await _upsert(
            session, principal.agency_id, brand_id, checked.valid, checked.provided
        )
        if created >= REPLAN_AFTER_CREATED:
            # The foreign-key checks of the membership insert below look locations up with
            # plans this connection cached earlier, possibly while the table was nearly empty
            # (a sequential scan then): 16,000 such checks against 10,000 fresh rows took
            # seconds. DISCARD PLANS makes them re-plan for the table as it is now.
            await session.execute(text("DISCARD PLANS"))
        groups_created, added, removed = await _sync_groups(
            session, principal.agency_id, brand_id, checked.valid, ids
        )
        if created or updated:
            await billing.locations_changed(
                session, None, principal.agency_id, active_before=active_before
            )
    if checked.valid:
        audit.record_by(
            session,
            principal,
            action="location.import",
            object_type="brand",
            object_id=brand_id,
            details={
                "mode": mode,
                "rows": checked.rows,
                "created": created,
                "updated": updated,
                "invalid": checked.invalid,
                "groups_created": groups_created,
                "memberships_added": added,
                "memberships_removed": removed,
            },
        )
    return ImportResult(
        mode=mode,
        rows=checked.rows,
        created=created,
        updated=updated,
        unchanged=len(checked.valid) - created - updated,
        invalid=checked.invalid,
        errors=checked.errors,
        groups_created=groups_created,
        memberships_added=added,
        memberships_removed=removed,
    )


def _lock_order(row: _Valid) -> tuple[bool, str]:
    """Rows with an ``external_ref`` first, by it; rows without one only ever insert."""
    ref = row.fields.external_ref
    return (ref is None, ref or "")


def _upsert_sql(provided: frozenset[str]) -> str:
    updates = [column for column in _UPDATABLE if column in provided]
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
    current = ", ".join(f"l.{c}" for c in updates)
    proposed = ", ".join(f"EXCLUDED.{c}" for c in updates)
    return f"""
        INSERT INTO location AS l (
            agency_id, brand_id, id, external_ref, {", ".join(_UPDATABLE)}
        )
        SELECT
            CAST(:agency_id AS uuid), CAST(:brand_id AS uuid), t.id, t.external_ref,
            t.name, t.address_line1, t.address_line2, t.city, t.region, t.postal_code,
            t.country, t.time_zone, t.phone, t.website, CAST(t.custom_fields AS jsonb), t.status
        FROM unnest(
            CAST(:id AS uuid[]), CAST(:external_ref AS text[]),
            CAST(:name AS text[]), CAST(:address_line1 AS text[]),
            CAST(:address_line2 AS text[]), CAST(:city AS text[]), CAST(:region AS text[]),
            CAST(:postal_code AS text[]), CAST(:country AS text[]), CAST(:time_zone AS text[]),
            CAST(:phone AS text[]), CAST(:website AS text[]), CAST(:custom_fields AS text[]),
            CAST(:status AS text[])
        ) AS t(
            id, external_ref, {", ".join(_UPDATABLE)}
        )
        ON CONFLICT (agency_id, brand_id, external_ref) DO UPDATE
        SET {assignments}, updated_at = now()
        WHERE ({current}) IS DISTINCT FROM ({proposed})
        RETURNING l.id, l.external_ref, (l.xmax = 0) AS inserted
    """  # noqa: S608  (column names come from _UPDATABLE, values are bound)


async def _upsert(
    session: AsyncSession,
    agency_id: uuid.UUID,
    brand_id: uuid.UUID,
    rows: list[_Valid],
    provided: frozenset[str],
) -> tuple[dict[str, uuid.UUID], int, int]:
    """One ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE`` for all rows.

    Returns the location id of every written external_ref and the created/updated counts,
    told apart by ``xmax = 0`` (a freshly inserted row has no deleting transaction). Rows
    equal to what is stored are skipped by the ``WHERE … IS DISTINCT FROM`` and not returned
    (but locked all the same).

    The rows go in ``external_ref`` order: the statement locks each existing row (or waits
    for a concurrent insert of the same key) in the order it receives them, so two imports of
    overlapping rows, whatever the order of their files, wait for each other instead of each
    holding a row the other needs (a deadlock).
    """
    rows = sorted(rows, key=_lock_order)
    params: dict[str, Any] = {
        "agency_id": agency_id,
        "brand_id": brand_id,
        "id": [r.id for r in rows],
        "external_ref": [r.fields.external_ref for r in rows],
    }
    for column in _UPDATABLE:
        if column == "custom_fields":
            params[column] = [orjson.dumps(r.fields.custom_fields).decode() for r in rows]
        else:
            params[column] = [getattr(r.fields, column) for r in rows]
    result = await session.execute(text(_upsert_sql(provided)), params)
    ids: dict[str, uuid.UUID] = {}
    created = updated = 0
    for location_id, external_ref, inserted in result:
        if inserted:
            created += 1
        else:
            updated += 1
        if external_ref is not None:
            ids[external_ref] = location_id
    return ids, created, updated


async def _sync_groups(
    session: AsyncSession,
    agency_id: uuid.UUID,
    brand_id: uuid.UUID,
    rows: list[_Valid],
    written: dict[str, uuid.UUID],
) -> tuple[int, int, int]:
    """Make each row's groups the location's groups, for the rows that carry them: create
    the brand's missing groups, add the memberships named, remove the ones not named.
    Returns (groups created, memberships added, memberships removed)."""
    carrying = [r for r in rows if r.groups is not None]
    if not carrying:
        return 0, 0, 0
    names: dict[str, str] = {}
    for row in carrying:
        for name in row.groups or ():
            names.setdefault(name.lower(), name)
    group_ids, created = await _ensure_groups(session, agency_id, brand_id, names)
    location_of = await _locations_of(session, agency_id, brand_id, carrying, written)

    keep: set[tuple[uuid.UUID, uuid.UUID]] = set()
    existing: list[uuid.UUID] = []
    for row in carrying:
        ref = row.fields.external_ref
        location_id = row.id if ref is None else location_of[ref]
        if ref is not None:  # a row without external_ref is a new location: nothing to leave
            existing.append(location_id)
        for name in row.groups or ():
            keep.add((group_ids[name.lower()], location_id))
    leaving = await _memberships_to_leave(session, agency_id, existing, keep)
    # Both statements take their rows in key order, like the upsert: a membership another
    # import is changing at the same time is waited for in the same order on both sides.
    removed = 0
    if leaving:
        result = await session.execute(
            _LEAVE_GROUPS,
            {
                "agency_id": agency_id,
                "group_ids": [g for g, _ in leaving],
                "location_ids": [loc for _, loc in leaving],
            },
        )
        removed = len(result.all())
    ordered = sorted(keep)
    added = await session.execute(
        _JOIN_GROUPS,
        {
            "agency_id": agency_id,
            "group_ids": [g for g, _ in ordered],
            "location_ids": [loc for _, loc in ordered],
        },
    )
    return created, len(added.all()), removed


async def _memberships_to_leave(
    session: AsyncSession,
    agency_id: uuid.UUID,
    locations: list[uuid.UUID],
    keep: set[tuple[uuid.UUID, uuid.UUID]],
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The memberships of ``locations`` not in ``keep``, in key order: read through the
    (agency, location) index and compared here, so no plan depends on guessing the size
    of 16,000 pairs passed as arrays (an anti-join the planner has no statistics for)."""
    if not locations:
        return []
    current = await session.execute(
        _MEMBERSHIPS_OF, {"agency_id": agency_id, "locations": sorted(locations)}
    )
    return sorted(
        (group_id, location_id)
        for group_id, location_id in current
        if (group_id, location_id) not in keep
    )


_MEMBERSHIPS_OF = text(
    """
    SELECT m.group_id, m.location_id
    FROM unnest(CAST(:locations AS uuid[])) AS r(location_id)
    JOIN location_group_member m
      ON m.agency_id = CAST(:agency_id AS uuid) AND m.location_id = r.location_id
    """
)

_LEAVE_GROUPS = text(
    """
    DELETE FROM location_group_member m
    USING unnest(CAST(:group_ids AS uuid[]), CAST(:location_ids AS uuid[]))
        AS d(group_id, location_id)
    WHERE m.agency_id = CAST(:agency_id AS uuid)
      AND m.group_id = d.group_id
      AND m.location_id = d.location_id
    RETURNING 1
    """
)

_JOIN_GROUPS = text(
    """
    INSERT INTO location_group_member (agency_id, group_id, location_id)
    SELECT CAST(:agency_id AS uuid), t.group_id, t.location_id
    FROM unnest(CAST(:group_ids AS uuid[]), CAST(:location_ids AS uuid[]))
        AS t(group_id, location_id)
    ON CONFLICT DO NOTHING
    RETURNING 1
    """
)


async def _locations_of(
    session: AsyncSession,
    agency_id: uuid.UUID,
    brand_id: uuid.UUID,
    rows: list[_Valid],
    written: dict[str, uuid.UUID],
) -> dict[str, uuid.UUID]:
    """``external_ref → location id`` of ``rows``: the upsert's answer, plus the rows it left
    untouched (equal to what is stored), looked up."""
    unchanged_refs = [
        r.fields.external_ref
        for r in rows
        if r.fields.external_ref is not None and r.fields.external_ref not in written
    ]
    location_of = dict(written)
    if unchanged_refs:
        found = await session.execute(
            select(Location.external_ref, Location.id).where(
                Location.agency_id == agency_id,
                Location.brand_id == brand_id,
                Location.external_ref.in_(unchanged_refs),
            )
        )
        location_of.update({ref: id_ for ref, id_ in found if ref is not None})
    return location_of


async def _ensure_groups(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID, names: dict[str, str]
) -> tuple[dict[str, uuid.UUID], int]:
    """``lower(name) → group id`` for all ``names``, creating the missing ones in one
    statement. A group created concurrently by someone else is found, not duplicated."""
    found = await _groups_named(session, agency_id, brand_id, list(names))
    # Sorted, so that two imports creating the same new groups wait in the same order.
    missing = [names[key] for key in sorted(names) if key not in found]
    created = 0
    if missing:
        result = await session.execute(
            text(
                """
                INSERT INTO location_group (agency_id, id, brand_id, name)
                SELECT CAST(:agency_id AS uuid), t.id, CAST(:brand_id AS uuid), t.name
                FROM unnest(CAST(:ids AS uuid[]), CAST(:names AS text[])) AS t(id, name)
                ON CONFLICT (agency_id, brand_id, name) DO NOTHING
                RETURNING id, name
                """
            ),
            {
                "agency_id": agency_id,
                "brand_id": brand_id,
                "ids": [new_id() for _ in missing],
                "names": missing,
            },
        )
        for group_id, name in result:
            found[name.lower()] = group_id
            created += 1
        if len(found) < len(names):
            found.update(await _groups_named(session, agency_id, brand_id, list(names)))
    return found, created


async def _groups_named(
    session: AsyncSession, agency_id: uuid.UUID, brand_id: uuid.UUID, lowered: list[str]
) -> dict[str, uuid.UUID]:
    stmt = (
        select(LocationGroup.name, LocationGroup.id)
        .where(
            LocationGroup.agency_id == agency_id,
            LocationGroup.brand_id == brand_id,
            func.lower(LocationGroup.name).in_(lowered),
        )
        .order_by(LocationGroup.created_at, LocationGroup.id)
    )
    out: dict[str, uuid.UUID] = {}
    for name, group_id in await session.execute(stmt):
        out.setdefault(name.lower(), group_id)
    return out


# Export ------------------------------------------------------------------------------------


async def export_brand(session: AsyncSession, principal: Principal, brand_id: uuid.UUID) -> Brand:
    """The brand to export, if the principal may read its locations (else 404/403)."""
    return await brand_service.get_brand(session, principal, brand_id, "location.read")


def export_filename(brand: Brand, today: date) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", brand.name.lower()).strip("-")[:60] or "brand"
    return f"locations-{slug}-{today.isoformat()}.csv"


_EXPORT_COLUMNS = (
    Location.id,
    *(getattr(Location, name) for name in csv_format.FIELD_COLUMNS),
    Location.custom_fields,
)


def _groups_of_location() -> Any:
    return (
        select(func.array_agg(aggregate_order_by(LocationGroup.name, LocationGroup.name)))
        .select_from(LocationGroupMember)
        .join(
            LocationGroup,
            (LocationGroup.agency_id == LocationGroupMember.agency_id)
            & (LocationGroup.id == LocationGroupMember.group_id),
        )
        .where(
            LocationGroupMember.agency_id == Location.agency_id,
            LocationGroupMember.location_id == Location.id,
        )
        .scalar_subquery()
        .label("groups")
    )


async def export_csv(
    database: Database,
    principal: Principal,
    filters: LocationFilter,
    *,
    batch_size: int | None = None,
) -> AsyncIterator[str]:
    """The CSV text of the locations ``filters`` select, header first, in keyset batches.

    Runs in a transaction of its own (the request's has ended by the time the body streams),
    read-only and REPEATABLE READ so the header's custom columns and every batch see one
    snapshot. The principal's reach applies exactly as for the list endpoint.
    """
    async with database.sessionmaker() as session, session.begin():
        await session.connection(
            execution_options={
                "isolation_level": "REPEATABLE READ",
                "postgresql_readonly": True,
            }
        )
        await set_tenant(session, principal.agency_id, principal.user_id)
        base = repository.filtered(repository.visible_locations(principal), filters, principal)
        keys_stmt = base.with_only_columns(
            func.jsonb_object_keys(Location.custom_fields).label("key")
        ).distinct()
        keys = sorted((await session.execute(keys_stmt)).scalars())
        yield csvwriter.write_rows([csv_format.export_header(keys)])
        stmt = base.with_only_columns(*_EXPORT_COLUMNS, _groups_of_location()).order_by(Location.id)
        size = batch_size or EXPORT_BATCH_SIZE
        last: uuid.UUID | None = None
        while True:
            page = stmt if last is None else stmt.where(Location.id > last)
            rows = (await session.execute(page.limit(size))).all()
            if not rows:
                return
            yield csvwriter.write_rows(
                csv_format.export_row(row._mapping, row.groups or (), keys) for row in rows
            )
            if len(rows) < size:
                return
            last = rows[-1].id
