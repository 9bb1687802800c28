"""Engine and session factory. The boundary (request, job) owns the transaction; services flush."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Select

from shared.db import hooks
from shared.db.tenancy import set_tenant

_LONG_NUMBER = re.compile(r"[0-9]{19}")
_EXACT = frozenset({str, int, bool, type(None)})


def json_loads(text: str) -> Any:
    """``json.loads``, at orjson's speed: how the driver decodes every json/jsonb value.

    orjson parses 3-5 times faster, but reads integers beyond 64 bits as floats and refuses
    numbers beyond a double's range, where ``json.loads`` keeps them exact or reads inf.
    An object of text, integers, booleans and nulls (custom fields, mostly) is exact as
    orjson reads it; anything else with a run of 19 digits, or that orjson refuses, is read
    by ``json.loads`` again. The values are always the ones ``json.loads`` gives."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    if type(value) is dict and _EXACT.issuperset(map(type, value.values())):
        return value
    return json.loads(text) if _LONG_NUMBER.search(text) else value


def _jsonb_as_text(dbapi_connection: Any, _record: Any) -> None:
    """jsonb values travel as text and go straight to ``json_loads``, replacing the dialect's
    codec (binary: a slice and a decode per value, then the parse). Writes are unchanged:
    SQLAlchemy serializes to text either way."""
    dbapi_connection.run_async(
        lambda conn: conn.set_type_codec(
            "jsonb", schema="pg_catalog", format="text", encoder=str, decoder=json_loads
        )
    )


class Database:
    def __init__(self, url: URL, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=False,
            json_deserializer=json_loads,
            connect_args={"server_settings": {"application_name": "chorus", "timezone": "UTC"}},
        )
        event.listen(self.engine.sync_engine, "connect", _jsonb_as_text)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(
        self, agency_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success (then its after-commit
        callbacks run), rolled back on error (and its callbacks dropped)."""
        async with self.sessionmaker() as session:
            try:
                async with session.begin():
                    if agency_id is not None or user_id is not None:
                        await set_tenant(session, agency_id, user_id)
                    yield session
                await hooks.run_after_commit(session)
            finally:
                hooks.discard(session)

    async def dispose(self) -> None:
        await self.engine.dispose()


_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class DriverQuery:
    """A SELECT built with SQLAlchemy and compiled once, run on the session's own asyncpg
    connection, in the session's transaction.

    For the hottest reads only: per execution, SQLAlchemy's layers (cache key, execution
    context, result metadata, row objects, a greenlet hop) cost several times what asyncpg
    spends on the same query. Rules, so that a compiled query can be shared by every request:

    - every parameter is a named ``bindparam`` and every call supplies all of them (a value
      given when the statement was built is never used; a missing one is a ``KeyError``);
    - parameter values are what asyncpg takes as they are: uuid, str, int, lists of those;
    - rows are ``asyncpg.Record`` (``row["name"]``; jsonb decoded by the engine's codec);
    - the session's transaction must already be open on the connection (the tenant set, as
      the request's principal does first): outside it the query would run in a transaction
      of its own, so it refuses.
    """

    __slots__ = ("names", "sql")

    def __init__(self, stmt: Select[Any]) -> None:
        compiled = stmt.compile(dialect=_DIALECT)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())

    async def fetch(self, session: AsyncSession, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        args = [params[name] for name in self.names]
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        if not driver.is_in_transaction():
            raise RuntimeError(
                "DriverQuery runs inside the session's transaction: execute something "
                "through the session first (e.g. set the tenant)"
            )
        return await driver.fetch(self.sql, *args)
