"""Opaque keyset cursors: stable under inserts, cheap at any depth (no OFFSET)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
    if cursor:
        values = decode_cursor(cursor, sort)
        if len(values) != len(columns):
            raise BadRequest("cursor is not valid for this listing", code="invalid_cursor")
        if decode is not None:
            values = decode(values)
        stmt = stmt.where(tuple_(*columns) > tuple_(*values))
    stmt = stmt.order_by(*columns).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(sort, key(rows[-1]))
    return Slice(rows, next_cursor)
