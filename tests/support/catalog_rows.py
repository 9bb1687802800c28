"""Rows for every table, generated from the PostgreSQL catalog (issue #14).

The row-level security test must cover a table added later without being edited, so it
cannot know the tables' columns: it reads them from ``pg_catalog`` (types, NOT NULL,
defaults, foreign keys, CHECK constraints) and makes one row per agency, parents first.

Values: the tenant column gets the agency; a foreign key takes the same agency's parent
row; a nullable column stays NULL; a column with a default keeps it; anything else gets a
fresh value of its type (unique, so two agencies never collide on a unique key). A CHECK
that the first guess violates is repaired by trying the literals the constraint itself
names (and NULL), the constraint's columns together.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

TENANT_COLUMN = "agency_id"
TENANT_KEY_OF_AGENCY = {"agency": "id"}
"""Tables whose own key is the tenant (``agency`` has no ``agency_id``; its ``id`` is it)."""

_COLUMNS = """
SELECT c.relname AS table, a.attname AS column, a.attnum AS num, t.typname AS type,
       et.typname AS element, a.attnotnull AS not_null,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' AS has_default,
       a.attgenerated <> '' AS generated,
       CASE WHEN a.atttypmod > 4 AND t.typname IN ('varchar', '_varchar', 'bpchar')
            THEN a.atttypmod - 4 END AS max_length
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT con.conname AS name, con.contype::text AS kind, c.relname AS table,
       p.relname AS parent, pg_get_constraintdef(con.oid) AS definition,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
             ORDER BY k.i) AS columns,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
             ORDER BY k.i) AS parent_columns
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
LEFT JOIN pg_class p ON p.oid = con.confrelid
WHERE con.connamespace = 'public'::regnamespace AND con.contype IN ('f', 'c')
ORDER BY c.relname, con.conname
"""

_TABLES = """
SELECT c.relname AS table, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
ORDER BY c.relname
"""

_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'::")
_NUMBER_LITERAL = re.compile(r"(?<![\w.'])(-?\d+)(?![\w.'])")
_INTEGERS = {"int2", "int4", "int8"}
_STRINGS = {"text", "varchar", "bpchar", "citext"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    element: str | None
    not_null: bool
    has_default: bool
    generated: bool
    max_length: int | None


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    parent: str
    columns: tuple[str, ...]
    parent_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    columns: tuple[str, ...]
    definition: str


@dataclass(slots=True)
class Table:
    name: str
    rls: bool
    forced: bool
    columns: dict[str, Column] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def tenant_column(self) -> str | None:
        if self.name in TENANT_KEY_OF_AGENCY:
            return TENANT_KEY_OF_AGENCY[self.name]
        return TENANT_COLUMN if TENANT_COLUMN in self.columns else None


async def read_catalog(conn: asyncpg.Connection) -> dict[str, Table]:
    tables = {
        r["table"]: Table(r["table"], r["rls"], r["forced"]) for r in await conn.fetch(_TABLES)
    }
    for r in await conn.fetch(_COLUMNS):
        if r["table"] in tables:
            tables[r["table"]].columns[r["column"]] = Column(
                r["column"],
                r["type"],
                r["element"],
                r["not_null"],
                r["has_default"],
                r["generated"],
                r["max_length"],
            )
    for r in await conn.fetch(_CONSTRAINTS):
        if r["table"] not in tables:
            continue
        table = tables[r["table"]]
        if r["kind"] == "f":
            table.foreign_keys.append(
                ForeignKey(r["name"], r["parent"], tuple(r["columns"]), tuple(r["parent_columns"]))
            )
        else:
            table.checks[r["name"]] = Check(r["name"], tuple(r["columns"]), r["definition"])
    return tables


def fill_order(tables: dict[str, Table], wanted: set[str]) -> list[str]:
    """``wanted`` and every table they reference, parents before children (self-references
    and nullable cycles aside: such a foreign key is left NULL when its parent comes later)."""
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(fk.parent for fk in tables[name].foreign_keys)
    order: list[str] = []
    remaining = set(needed)
    while remaining:
        ready = sorted(
            name
            for name in remaining
            if all(
                fk.parent == name or fk.parent not in remaining or _nullable(tables[name], fk)
                for fk in tables[name].foreign_keys
            )
        )
        if not ready:
            raise AssertionError(f"foreign keys form a NOT NULL cycle among {sorted(remaining)}")
        done = [name for name in ready if _parents_done(tables[name], remaining)]
        chosen = (done or ready)[0]
        order.append(chosen)
        remaining.discard(chosen)
    return order


def _nullable(table: Table, fk: ForeignKey) -> bool:
    return any(not table.columns[c].not_null for c in fk.columns if c != table.tenant_column)


def _parents_done(table: Table, remaining: set[str]) -> bool:
    return all(fk.parent == table.name or fk.parent not in remaining for fk in table.foreign_keys)


class ValueMaker:
    """Fresh values of a PostgreSQL type; strings and numbers never repeat within a run."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def make(self, column: Column) -> Any:
        if column.element is not None:
            element = Column(
                column.name, column.element, None, True, False, False, column.max_length
            )
            return [self.make(element)]
        kind = column.type
        n = next(self._counter)
        if kind == "uuid":
            return uuid.uuid4()
        if kind in _STRINGS:
            token = f"{n}{uuid.uuid4().hex}"
            return token[: column.max_length] if column.max_length else f"{column.name}-{token}"
        if kind in _INTEGERS:
            return n
        if kind in {"float4", "float8"}:
            return float(n)
        if kind == "numeric":
            return Decimal(n)
        if kind == "bool":
            return True
        if kind == "bytea":
            return os.urandom(32)
        if kind in {"json", "jsonb"}:
            return "{}"
        if kind == "timestamptz":
            return datetime.now(UTC)
        if kind == "timestamp":
            return datetime.now(UTC).replace(tzinfo=None)
        if kind == "date":
            return date.today()
        raise AssertionError(
            f"no value for column {column.name} of type {kind}: teach "
            "tests/support/catalog_rows.py's ValueMaker this type"
        )

    def candidates(self, column: Column, check: Check) -> Iterator[Any]:
        """What a CHECK constraint suggests for one of its columns: its own literals, NULL."""
        kind = column.element or column.type
        if kind in _STRINGS:
            for literal in _STRING_LITERAL.findall(check.definition):
                value = literal.replace("''", "'")
                yield [value] if column.element else value
        elif kind in _INTEGERS:
            for literal in _NUMBER_LITERAL.findall(check.definition):
                yield int(literal)
        if not column.not_null:
            yield None
        yield self.make(column)


@dataclass(slots=True)
class Filled:
    """One generated row per agency and table: ``rows[table][agency]``."""

    rows: dict[str, dict[uuid.UUID, dict[str, Any]]] = field(default_factory=dict)


class RowFactory:
    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables
        self.values = ValueMaker()

    def row(self, table: Table, agency: uuid.UUID, filled: Filled) -> dict[str, Any]:
        """A first guess at a valid row of ``agency`` (CHECKs are repaired on insert)."""
        row: dict[str, Any] = {}
        for fk in table.foreign_keys:
            parent_row = filled.rows.get(fk.parent, {}).get(agency)
            if fk.parent == table.name or parent_row is None:
                continue
            for name, parent_column in zip(fk.columns, fk.parent_columns, strict=True):
                row.setdefault(name, parent_row[parent_column])
        for column in table.columns.values():
            if column.name in row or column.generated:
                continue
            if column.name == table.tenant_column:
                row[column.name] = agency
            elif column.not_null and not column.has_default:
                row[column.name] = self._first_guess(table, column)
        return row

    def _first_guess(self, table: Table, column: Column) -> Any:
        for check in table.checks.values():
            if column.name in check.columns:
                for value in self.values.candidates(column, check):
                    if value is not None:
                        return value
        return self.values.make(column)

    async def insert(
        self, conn: asyncpg.Connection, table: Table, row: dict[str, Any], *, tries: int = 300
    ) -> dict[str, Any]:
        """Insert ``row`` (as the owner), repairing violated CHECKs; the row as stored."""
        for _ in range(tries):
            try:
                async with conn.transaction():
                    stored = await conn.fetchrow(insert_sql(table.name, row), *row.values())
            except asyncpg.CheckViolationError as error:
                check = table.checks[str(error.constraint_name)]
                row = await self._repair(conn, table, row, check)
                continue
            assert stored is not None
            return dict(stored)
        raise AssertionError(f"could not make a row for {table.name} after {tries} tries")

    async def _repair(
        self, conn: asyncpg.Connection, table: Table, row: dict[str, Any], check: Check
    ) -> dict[str, Any]:
        """The first combination of the check's columns' candidates that passes the check."""
        options = [list(self.values.candidates(table.columns[c], check)) for c in check.columns]
        for combination in itertools.product(*options):
            attempt = {**row, **dict(zip(check.columns, combination, strict=True))}
            try:
                async with conn.transaction():
                    await conn.execute(insert_sql(table.name, attempt), *attempt.values())
                    raise _Rollback
            except _Rollback:
                return attempt
            except asyncpg.CheckViolationError as error:
                if error.constraint_name != check.name:
                    return attempt  # this one passes; the next round repairs the other
        raise AssertionError(
            f"no values satisfy {table.name}'s {check.name} ({check.definition}): "
            "teach tests/support/catalog_rows.py's ValueMaker.candidates"
        )


class _Rollback(Exception):
    """Raised inside a savepoint to undo a trial insert."""


def insert_sql(table: str, row: dict[str, Any]) -> str:
    columns = ", ".join(f'"{c}"' for c in row)
    params = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    if not row:
        return f'INSERT INTO "{table}" DEFAULT VALUES RETURNING *'
    return f'INSERT INTO "{table}" ({columns}) VALUES ({params}) RETURNING *'


async def fill(
    conn: asyncpg.Connection, tables: dict[str, Table], wanted: set[str], agencies: list[uuid.UUID]
) -> Filled:
    """One row per agency in every ``wanted`` table and its parents, as the (RLS-exempt)
    owner; ``conn`` must be inside a transaction."""
    factory = RowFactory(tables)
    filled = Filled()
    for name in fill_order(tables, wanted):
        table = tables[name]
        filled.rows[name] = {}
        for agency in agencies:
            row = factory.row(table, agency, filled)
            filled.rows[name][agency] = await factory.insert(conn, table, row)
    return filled


def copy_with_new_key(table: Table, stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` (another agency's row) under a fresh ``id``: what an insert attempt uses, so
    that only row-level security (not a duplicate key) can refuse it."""
    row = {name: value for name, value in stored.items() if not table.columns[name].generated}
    if "id" in row and table.tenant_column != "id":
        row["id"] = uuid.uuid4()
    return row
