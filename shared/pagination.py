"""Opaque keyset cursors: stable under inserts, cheap at any depth (no OFFSET).

A listing offers its orders with a ``Sorting`` (``sort=name``, ``sort=-created_at``…): the
cursor carries the sort it came from and the last row's values of the sort columns, so the
next page continues the same order, and a cursor sent with another ``sort`` is a 400.
``include=total`` adds the exact count of the rows the same filters match, counted in the
same transaction (under the same row-level security) as the page."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import BadRequest, FieldProblem

T = TypeVar("T")
M = TypeVar("M")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    total: int | None = Field(
        default=None,
        description="With `include=total`: how many items match the filters, on all pages; "
        "otherwise null.",
    )


def encode_cursor(sort: str, values: list[Any]) -> str:
    raw = orjson.dumps({"s": sort, "v": values}, default=str)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values = data["v"]
        if data["s"] != sort or not isinstance(values, list):
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
        raise BadRequest(
            "cursor is not valid for this listing; start again without `cursor` "
            "(cursors only work with the same `sort` they came from)",
            code="invalid_cursor",
        ) from None
    return values


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int | None = None


def cursor_key(
    cursor: str,
    sort: str,
    width: int,
    decode: Callable[[list[Any]], list[Any]] | None = None,
) -> list[Any]:
    """The key a cursor carries: the values of the ``width`` sort columns of the last row of
    the previous page (``decode`` turns them back into their types)."""
    values = decode_cursor(cursor, sort)
    if len(values) != width:
        raise BadRequest("cursor is not valid for this listing", code="invalid_cursor")
    try:
        return decode(values) if decode is not None else values
    except (ValueError, TypeError):  # well-formed, but not values of this listing
        raise BadRequest("cursor is not valid for this listing", code="invalid_cursor") from None


def _keyset_statement(
    stmt: Select[Any],
    *,
    sort: str,
    columns: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int,
    decode: Callable[[list[Any]], list[Any]] | None,
) -> Select[Any]:
    if cursor:
        values = cursor_key(cursor, sort, len(columns), decode)
        stmt = stmt.where(tuple_(*columns) > tuple_(*values))
    return stmt.order_by(*columns).limit(limit + 1)


def page_of(rows: list[T], *, sort: str, limit: int, key: Callable[[T], list[Any]]) -> Slice[T]:
    """The first ``limit`` of ``rows`` (fetched with limit + 1) and the cursor that follows
    them, if there is more."""
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(sort, key(rows[-1]))
    return Slice(rows, next_cursor)


async def keyset_page(
    session: AsyncSession,
    stmt: Select[M],
    *,
    sort: str,
    columns: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    key: Callable[[M], list[Any]],
    cursor: str | None,
    limit: int,
    decode: Callable[[list[Any]], list[Any]] | None = None,
) -> Slice[M]:
    """One page ordered by ``columns`` (the last one unique), fetched with limit + 1."""
    paged = _keyset_statement(
        stmt, sort=sort, columns=columns, cursor=cursor, limit=limit, decode=decode
    )
    rows: list[M] = list((await session.execute(paged)).scalars())
    return page_of(rows, sort=sort, limit=limit, key=key)


_FROM_JSON: dict[type, Callable[[Any], Any]] = {
    datetime: lambda v: datetime.fromisoformat(str(v)),
    uuid.UUID: lambda v: uuid.UUID(str(v)),
    str: str,
    int: int,
}


@dataclass(frozen=True, slots=True)
class Sorting:
    """The orders a listing offers: ``sort=<field>`` ascending, ``sort=-<field>`` descending,
    ties broken by the unique ``tiebreak`` column in the same direction. Only NOT NULL
    columns: a row comparison with a NULL drops that row from every page."""

    default: str
    fields: Mapping[str, InstrumentedAttribute[Any]]
    tiebreak: InstrumentedAttribute[Any]
    values: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        for name, column in {**self.fields, "tiebreak": self.tiebreak}.items():
            if column.expression.nullable or column.type.python_type not in _FROM_JSON:
                raise ValueError(f"cannot sort by {name}: nullable, or not a key type")
        values = tuple(v for name in self.fields for v in (name, f"-{name}"))
        if self.default not in values:
            raise ValueError(f"default sort {self.default!r} is not one of {values}")
        object.__setattr__(self, "values", values)

    def columns(self, sort: str) -> tuple[list[InstrumentedAttribute[Any]], bool]:
        """The key columns of ``sort`` and whether it is descending; a 400 naming the
        allowed sorts for anything else."""
        if sort not in self.values:
            raise BadRequest(
                f"cannot sort by '{sort}'; sort by one of: {', '.join(self.values)}",
                code="invalid_sort",
                errors=[FieldProblem("query.sort", f"must be one of: {', '.join(self.values)}")],
            )
        column = self.fields[sort.removeprefix("-")]
        columns = [column] if column is self.tiebreak else [column, self.tiebreak]
        return columns, sort.startswith("-")


async def count_of(session: AsyncSession, stmt: Select[*tuple[Any, ...]]) -> int:
    """How many rows ``stmt`` (a listing's filtered statement) matches, in this transaction."""
    counted = select(func.count()).select_from(stmt.order_by(None).limit(None).subquery())
    return int((await session.execute(counted)).scalar_one())


async def sorted_page(
    session: AsyncSession,
    stmt: Select[M],
    sorting: Sorting,
    *,
    sort: str,
    cursor: str | None,
    limit: int,
    total: bool = False,
) -> Slice[M]:
    """One page of ``stmt``'s objects in the order ``sort`` names (one of ``sorting.values``),
    after the row ``cursor`` points at, fetched with limit + 1; with ``total``, the count of
    every row ``stmt`` matches as well."""
    columns, descending = sorting.columns(sort)
    paged = stmt
    if cursor:
        types = [c.type.python_type for c in columns]
        values = cursor_key(
            cursor,
            sort,
            len(columns),
            lambda raw: [_FROM_JSON[t](v) for t, v in zip(types, raw, strict=True)],
        )
        after = (
            tuple_(*columns) < tuple_(*values) if descending else tuple_(*columns) > tuple_(*values)
        )
        paged = paged.where(after)
    order = [c.desc() for c in columns] if descending else columns
    rows: list[M] = list((await session.execute(paged.order_by(*order).limit(limit + 1))).scalars())
    page = page_of(
        rows, sort=sort, limit=limit, key=lambda row: [getattr(row, c.key) for c in columns]
    )
    if not total:
        return page
    return Slice(page.items, page.next_cursor, await count_of(session, stmt))
