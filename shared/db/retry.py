"""Transparent retry of a transaction PostgreSQL gave up on: a deadlock (SQLSTATE 40P01) or a
serialization failure (40001).

Bulk writers take their row locks in a deterministic order, so these should not happen among
themselves; anything that still deadlocks (a writer we do not control, a trigger, a lock
taken by a foreign-key check) is re-run from the start a few times with a short jittered
backoff. Only when every try failed does the caller see ``ConcurrentUpdate``: a 409 with
``Retry-After``, never a 500.

Two shapes, for the two kinds of boundary:

- ``run_transaction(db, work, agency_id=…)``: the worker's. Each try is a transaction of its
  own (``Database.transaction``); ``work(session)`` is called again on a fresh session.
- ``in_savepoint(session, work)``: the request's. The request's transaction is already open
  (the principal was loaded in it), so each try runs under a SAVEPOINT that a failure rolls
  back to: its row locks are released and its after-commit callbacks dropped, and ``work()``
  runs again. Call it at the start of the route's writes, so that the savepoint covers all
  of them (what runs before it only reads, or takes locks no bulk writer competes for).
  Under READ COMMITTED, the default, every statement of the next try sees what the winner
  committed.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import hooks
from shared.db.engine import Database
from shared.errors import AppError

log = structlog.get_logger("chorus.db")

T = TypeVar("T")

DEADLOCK = "40P01"
SERIALIZATION_FAILURE = "40001"
RETRYABLE = frozenset({DEADLOCK, SERIALIZATION_FAILURE})
ATTEMPTS = 4
BASE_DELAY_S = 0.05
MAX_DELAY_S = 1.0
RETRY_AFTER_S = 1

_REASONS = {
    DEADLOCK: "deadlock_detected",
    SERIALIZATION_FAILURE: "serialization_failure",
}


class ConcurrentUpdate(AppError):
    """Concurrent writers kept conflicting on the same rows; nothing of this change was
    written. Safe to send again."""

    status_code = 409
    code = "concurrent_update"
    title = "Concurrent update"

    def __init__(self, message: str, *, reason: str, attempts: int) -> None:
        super().__init__(
            message,
            headers={"Retry-After": str(RETRY_AFTER_S)},
            extra={"reason": reason, "attempts": attempts},
        )


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, however it arrived: SQLAlchemy's ``DBAPIError``
    (its ``orig``), the driver's adapted error, or asyncpg's own (a ``DriverQuery`` or a raw
    connection), looked up along the cause chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if isinstance(code, str):
                return code
        current = current.__cause__ or current.__context__
    return None


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or a serialization failure, not yet retried (an exhausted retry's
    ``ConcurrentUpdate`` carries one as its cause, but is the final answer)."""
    return not isinstance(exc, ConcurrentUpdate) and sqlstate(exc) in RETRYABLE


def conflict_error(exc: BaseException, attempts: int, what: str) -> ConcurrentUpdate:
    """The answer for a transaction that still failed after ``attempts`` tries."""
    reason = _REASONS.get(sqlstate(exc) or "", "deadlock_detected")
    tries = f"after {attempts} tries" if attempts > 1 else "at once"
    return ConcurrentUpdate(
        f"{what} conflicted with other changes to the same rows written at the same time "
        f"({reason.replace('_', ' ')}) and could not be completed {tries}; nothing of it was "
        f"written: send it again in a moment",
        reason=reason,
        attempts=attempts,
    )


def backoff(attempt: int) -> float:
    """Seconds to wait after failed try ``attempt`` (from 1): exponential, with jitter so that
    the two sides of a deadlock do not collide again in step."""
    ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


async def run_transaction(
    db: Database,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    agency_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    attempts: int = ATTEMPTS,
    what: str = "the change",
) -> T:
    """``work`` in a transaction of its own, committed; re-run whole on a deadlock or a
    serialization failure, up to ``attempts`` tries, then ``ConcurrentUpdate``. ``work`` must
    be safe to run again (it is: nothing of a failed try was committed), and must not keep
    ORM objects of one try for the next."""
    for attempt in range(1, attempts + 1):
        try:
            async with db.transaction(agency_id, user_id) as session:
                return await work(session)
        except Exception as exc:
            if not is_retryable(exc):
                raise
            _give_up_after(exc, attempt, attempts, what)
        await asyncio.sleep(backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


async def in_savepoint(
    session: AsyncSession,
    work: Callable[[], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
    what: str = "the change",
) -> T:
    """``work()`` inside the session's open transaction, under a savepoint; on a deadlock or
    a serialization failure, rolled back to the savepoint and run again, up to ``attempts``
    tries, then ``ConcurrentUpdate``. Any other error leaves the savepoint to the boundary
    (which rolls the transaction back, or commits it for an error that keeps its changes)."""
    for attempt in range(1, attempts + 1):
        callbacks = session.info.get(hooks._KEY)
        registered = len(callbacks) if callbacks is not None else 0
        savepoint = await session.begin_nested()
        try:
            result = await work()
            await savepoint.commit()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            await savepoint.rollback()
            _drop_callbacks_after(session, registered)
            _give_up_after(exc, attempt, attempts, what)
        else:
            return result
        await asyncio.sleep(backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _give_up_after(exc: Exception, attempt: int, attempts: int, what: str) -> None:
    """Raises ``ConcurrentUpdate`` when try ``attempt`` was the last one; logs the retry
    otherwise."""
    code = sqlstate(exc)
    if attempt >= attempts:
        log.warning("db.retry_exhausted", what=what, attempts=attempts, sqlstate=code)
        raise conflict_error(exc, attempts, what) from exc
    log.info("db.retry", what=what, attempt=attempt, sqlstate=code)


def _drop_callbacks_after(session: AsyncSession, registered: int) -> None:
    """Forget the after-commit callbacks the failed try registered (its enqueues, its mail):
    only the try that commits may send anything."""
    callbacks = session.info.get(hooks._KEY)
    if callbacks is not None:
        del callbacks[registered:]
