"""Opaque keyset cursors: stable under inserts, cheap at any depth (no OFFSET)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import BadRequest

T = TypeVar("T")
M = TypeVar("M")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
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
