"""The CSV form of a location, one definition for the importer and the export.

A file is a header line and one location per line::

    external_ref,name,address_line1,address_line2,city,region,postal_code,country,time_zone,
    phone,website,status,groups,custom.<key>,...

``groups`` holds location-group names separated by ``;`` and every ``custom.<key>`` column is
one entry of ``custom_fields`` (an empty cell means the key is absent). Column names are
matched without regard to case or surrounding spaces, except the ``<key>`` of a custom column,
which must already be a valid custom field name (lowercase). An export is always a valid import.

The user-facing statement of this format is ``docs/location-import.md``; its column table is
:func:`reference_table`, and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shared import csvwriter
from shared.errors import FieldProblem
from shared.locations.fields import CUSTOM_KEY, DATA_COLUMNS, STATUSES

FIELD_COLUMNS: tuple[str, ...] = ("external_ref", *DATA_COLUMNS, "status")
"""Columns that are fields of ``LocationFields``, in file order."""

GROUPS_COLUMN = "groups"
STANDARD_COLUMNS: tuple[str, ...] = (*FIELD_COLUMNS, GROUPS_COLUMN)
REQUIRED_COLUMNS: tuple[str, ...] = ("name", "country", "time_zone")
CUSTOM_PREFIX = "custom."
GROUP_SEPARATOR = ";"
LOOKALIKE_SEPARATORS: tuple[str, ...] = tuple(
    sep for sep in (",", "/", "|", "\t") if sep != GROUP_SEPARATOR
)
"""Characters people separate lists with in other tools. A group name in a CSV cell holding
one of them is most likely several names run together, unless the brand already has a group
of exactly that name (the importer checks)."""
HEADER_LINE = 1

ColumnKind = Literal["field", "custom", "groups"]


@dataclass(frozen=True, slots=True)
class Column:
    kind: ColumnKind
    key: str
    """The ``LocationFields`` field, the custom field key, or ``groups``."""
    title: str
    """The column name as the file spells it (for messages)."""


@dataclass(frozen=True, slots=True)
class Header:
    columns: tuple[Column, ...]

    @property
    def field_keys(self) -> frozenset[str]:
        """The ``LocationFields`` fields this file sets (``custom_fields`` when any custom.*)."""
        keys = {c.key for c in self.columns if c.kind == "field"}
        if any(c.kind == "custom" for c in self.columns):
            keys.add("custom_fields")
        return frozenset(keys)

    @property
    def has_groups(self) -> bool:
        """Whether the file carries ``groups``: then each row's cell is its whole set."""
        return any(c.kind == "groups" for c in self.columns)

    def custom_column(self, key: str) -> str | None:
        for column in self.columns:
            if column.kind == "custom" and column.key == key:
                return column.title
        return None


def allowed_columns_text() -> str:
    return ", ".join(STANDARD_COLUMNS) + f" and {CUSTOM_PREFIX}<key> for custom fields"


def parse_header(cells: Sequence[str]) -> tuple[Header, list[FieldProblem]]:
    """Read the header line; every problem with it is reported at once, on line 1."""
    columns: list[Column] = []
    problems: list[FieldProblem] = []
    unknown: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for position, raw in enumerate(cells, start=1):
        title = raw.strip()
        lowered = title.lower()
        if not title:
            problems.append(
                FieldProblem(
                    "columns",
                    f"column {position} of the header has no name; name it or delete the column",
                    "unnamed_column",
                    HEADER_LINE,
                )
            )
            continue
        if lowered in STANDARD_COLUMNS:
            column = Column("groups" if lowered == GROUPS_COLUMN else "field", lowered, title)
        elif lowered.startswith(CUSTOM_PREFIX):
            key = title[len(CUSTOM_PREFIX) :].strip()
            if not CUSTOM_KEY.match(key):
                problems.append(
                    FieldProblem(
                        title,
                        f"custom field name '{key}' must be lowercase letters, digits and "
                        "underscores, starting with a letter (at most 64 characters)",
                        "invalid_column",
                        HEADER_LINE,
                    )
                )
                continue
            column = Column("custom", key, title)
        else:
            unknown.append(title)
            continue
        if (column.kind, column.key) in seen:
            problems.append(
                FieldProblem(
                    title,
                    f"column '{title}' appears twice (also as '{seen[column.kind, column.key]}')",
                    "duplicate_column",
                    HEADER_LINE,
                )
            )
            continue
        seen[column.kind, column.key] = title
        columns.append(column)
    if unknown:
        names = ", ".join(f"'{u}'" for u in unknown)
        problems.append(
            FieldProblem(
                "columns",
                f"unknown column{'s' if len(unknown) > 1 else ''} {names}; "
                f"the columns are {allowed_columns_text()}",
                "unknown_column",
                HEADER_LINE,
            )
        )
    present = {c.key for c in columns if c.kind == "field"}
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        problems.append(
            FieldProblem(
                "columns",
                f"missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}; the header needs at least {', '.join(REQUIRED_COLUMNS)}",
                "missing_column",
                HEADER_LINE,
            )
        )
    return Header(tuple(columns)), problems


def split_groups(text: str) -> list[str]:
    """``"North; Acme Holdings;"`` → ``["North", "Acme Holdings"]`` (blanks dropped)."""
    return [name.strip() for name in text.split(GROUP_SEPARATOR) if name.strip()]


def lookalike_separator(name: str) -> str | None:
    """The first of ``LOOKALIKE_SEPARATORS`` in ``name``, if any."""
    return next((sep for sep in LOOKALIKE_SEPARATORS if sep in name), None)


def separator_label(sep: str) -> str:
    return "a tab" if sep == "\t" else f"'{sep}'"


def row_fields(header: Header, cells: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """One line's cells as ``LocationFields`` input and its group names.

    An empty cell is the field's default: no external_ref, empty text, status ``active``,
    no custom field under that key.
    """
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    groups: list[str] = []
    for column, raw in zip(header.columns, cells, strict=False):
        value = csvwriter.unneutralise(raw.strip())
        if column.kind == "groups":
            groups = split_groups(value)
        elif column.kind == "custom":
            if value:
                custom[column.key] = value
        elif value or column.key in REQUIRED_COLUMNS:
            data[column.key] = value
    if custom:
        data["custom_fields"] = custom
    return data, groups


def custom_text(value: Any) -> str:
    """A custom field value as a cell. CSV carries text: 42 and "42" look the same."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_header(custom_keys: Iterable[str]) -> list[str]:
    return [*STANDARD_COLUMNS, *(f"{CUSTOM_PREFIX}{key}" for key in custom_keys)]


def export_row(
    location: Mapping[Any, Any], groups: Iterable[str], custom_keys: Sequence[str]
) -> list[str]:
    cells = ["" if location[name] is None else str(location[name]) for name in FIELD_COLUMNS]
    cells.append(GROUP_SEPARATOR.join(groups))
    custom = location["custom_fields"] or {}
    cells.extend(custom_text(custom.get(key)) for key in custom_keys)
    return cells


_COLUMN_NOTES: dict[str, str] = {
    "external_ref": "Your own id for the location (store number), at most 100 characters. A row "
    "whose `external_ref` the brand already has updates that location; a row without one "
    "always creates a new location.",
    "name": "At most 200 characters.",
    "address_line1": "At most 200 characters.",
    "address_line2": "At most 200 characters.",
    "city": "At most 100 characters.",
    "region": "State, province or county; at most 100 characters.",
    "postal_code": "At most 20 characters.",
    "country": "ISO 3166-1 alpha-2 code, any case (`US`, `de`).",
    "time_zone": "IANA time zone, any case (`America/New_York`, `Europe/Berlin`).",
    "phone": "Checked for the row's country and stored in E.164 (`+12125550100`).",
    "website": "`https://` is added when the scheme is missing.",
    "status": "One of {statuses}; empty means `active`. Active locations are billed seats.",
    "groups": "Group names separated by `{sep}` (see Groups below); empty means none.",
}


def reference_table() -> str:
    """The column table of ``docs/location-import.md``, generated from the code above."""
    statuses = ", ".join(f"`{s}`" for s in STATUSES)
    lines = ["| column | required | what it holds |", "|---|---|---|"]
    for name in STANDARD_COLUMNS:
        note = _COLUMN_NOTES[name].format(statuses=statuses, sep=GROUP_SEPARATOR)
        required = "yes" if name in REQUIRED_COLUMNS else ""
        lines.append(f"| `{name}` | {required} | {note} |")
    lines.append(
        f"| `{CUSTOM_PREFIX}<key>` | | One custom field per column, any number of them; `<key>` is "
        "lowercase letters, digits and `_`, starting with a letter. An empty cell means the "
        "location has no such field. |"
    )
    return "\n".join(lines) + "\n"


def lookalike_list() -> str:
    """The lookalike separators as the doc names them."""
    names = ["a tab" if sep == "\t" else f"`{sep}`" for sep in LOOKALIKE_SEPARATORS]
    return ", ".join(names[:-1]) + f" or {names[-1]}"
