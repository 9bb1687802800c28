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
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL, Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
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


COMMAND_TIMEOUT_GRACE_SECONDS = 1.0
"""How much longer than the server's ``statement_timeout`` the client waits for an answer:
the server cancels a slow statement itself (the connection stays usable); only a server
that says nothing at all (frozen, partitioned) reaches the client's own timeout."""


def _connect_or_unavailable(
    dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: Any
) -> Any:
    """A connection that cannot be opened (refused, unreachable, no answer within the connect
    timeout) raises the driver's ``OperationalError``, which SQLAlchemy raises as its own,
    instead of a bare ``OSError``/``TimeoutError`` that could come from anywhere."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:  # TimeoutError and ConnectionRefusedError included
        dbapi: Any = dialect.loaded_dbapi
        reason = str(exc) or type(exc).__name__
        raise dbapi.OperationalError(f"cannot connect to PostgreSQL: {reason}", exc) from exc


def _replace_closed(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """A pooled connection the server has closed is replaced at checkout (SQLAlchemy
    reconnects on ``DisconnectionError``), so a restarted server costs no request an error."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise sa_exc.DisconnectionError("the server closed this pooled connection")


def _unanswered_is_disconnect(context: ExceptionContext) -> BaseException | None:
    """No answer within the command timeout: the server or the network is stuck, so this
    connection is given up (the others are left alone: they may be fine) and the error is an
    ``OperationalError`` like any other lost connection."""
    error = context.original_exception
    if not isinstance(error, TimeoutError) or context.is_pre_ping:
        return None
    context.is_disconnect = True
    context.invalidate_pool_on_disconnect = False
    return sa_exc.OperationalError(
        context.statement,
        None,
        error,
        hide_parameters=True,
        connection_invalidated=True,
    )


def _terminate_unanswered(
    _dbapi_connection: Any, record: ConnectionPoolEntry, exception: BaseException | None
) -> None:
    """Close a connection whose server did not answer without asking it first (the graceful
    close would wait two more seconds for an answer that is not coming)."""
    if isinstance(exception, TimeoutError):
        driver = record.driver_connection
        if driver is not None and not driver.is_closed():
            driver.terminate()


class Database:
    """The engine and session factory of one process (API, worker, CLI).

    Every wait is bounded, so that an outage fails fast instead of hanging:

    - ``connect_timeout``: opening a connection (asyncpg's default is 60 s);
    - ``pool_timeout``: waiting for a free pooled connection (pool exhausted);
    - ``statement_timeout``: the server's ``statement_timeout`` for every statement, and the
      client's ``command_timeout`` (the same plus a grace second) for every round trip, which
      is what makes a frozen server fail: asyncpg has no socket timeout of its own. ``None``
      (the default, for the CLI, migrations and benchmarks) sets neither; the API passes a
      short one and the worker a longer one for its bulk jobs.

    Dead connections are replaced without a round trip: a pooled connection the server closed
    (a restart, ``pg_terminate_backend``) is found closed at checkout and reconnected before
    anyone uses it. ``pool_pre_ping`` would find more (a server that vanished without closing
    anything) but costs three round trips per checkout with asyncpg (begin, ping, rollback);
    such a connection fails its first statement instead, which invalidates it.
    A connection whose statement got no answer in time is closed at once (not after the
    graceful close's own wait) and its error is an ``OperationalError``; a connection that
    cannot be opened (refused, unreachable, timed out) is an ``OperationalError`` too.
    """

    def __init__(
        self,
        url: URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        connect_timeout: float = 10.0,
        pool_timeout: float = 30.0,
        statement_timeout: float | None = None,
    ) -> None:
        server_settings = {"application_name": "chorus", "timezone": "UTC"}
        connect_args: dict[str, Any] = {"timeout": connect_timeout}
        if statement_timeout is not None:
            server_settings["statement_timeout"] = str(round(statement_timeout * 1000))
            connect_args["command_timeout"] = statement_timeout + COMMAND_TIMEOUT_GRACE_SECONDS
        connect_args["server_settings"] = server_settings
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=False,
            json_deserializer=json_loads,
            connect_args=connect_args,
        )
        sync_engine = self.engine.sync_engine
        event.listen(sync_engine, "connect", _jsonb_as_text)
        event.listen(sync_engine, "do_connect", _connect_or_unavailable)
        event.listen(sync_engine, "checkout", _replace_closed)
        event.listen(sync_engine, "handle_error", _unanswered_is_disconnect)
        event.listen(sync_engine, "invalidate", _terminate_unanswered)
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
        try:
            return await driver.fetch(self.sql, *args)
        except TimeoutError as exc:
            # No answer within the command timeout: give the connection up now, as the
            # engine does for its own statements (see ``Database``).
            await connection.invalidate(exc)
            raise
