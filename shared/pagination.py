"""Opaque keyset cursors: stable under inserts, cheap at any depth (no OFFSET)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Row, Select, tuple_
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
    raw = json.dumps({"s": sort, "v": values}, separators=(",", ":"), default=str).encode()
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
        values = decode_cursor(cursor, sort)
        if len(values) != len(columns):
            raise BadRequest("cursor is not valid for this listing", code="invalid_cursor")
        if decode is not None:
            values = decode(values)
        stmt = stmt.where(tuple_(*columns) > tuple_(*values))
    return stmt.order_by(*columns).limit(limit + 1)


def _slice(rows: list[T], *, sort: str, limit: int, key: Callable[[T], list[Any]]) -> Slice[T]:
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
    return _slice(rows, sort=sort, limit=limit, key=key)


async def keyset_rows(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    sort: str,
    columns: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    key: Callable[[Row[Any]], list[Any]],
    cursor: str | None,
    limit: int,
    decode: Callable[[list[Any]], list[Any]] | None = None,
) -> Slice[Row[Any]]:
    """``keyset_page`` for a statement of columns: the page's rows as they come, without
    building ORM objects (for read-only listings on hot paths). It runs on the session's
    connection, in its transaction, skipping the ORM's execution layer it has no use for."""
    paged = _keyset_statement(
        stmt, sort=sort, columns=columns, cursor=cursor, limit=limit, decode=decode
    )
    connection = await session.connection()
    rows = list((await connection.execute(paged)).all())
    return _slice(rows, sort=sort, limit=limit, key=key)
