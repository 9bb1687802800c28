"""Work that may only happen once the transaction has committed (enqueue a job, send mail).

Services register callbacks on the session; the transaction boundary runs them after a
successful commit and drops them on rollback, so a rolled-back change sends nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("chorus.db")

AfterCommit = Callable[[], Awaitable[None]]
_KEY = "chorus_after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    session.info.setdefault(_KEY, []).append(callback)


def discard(session: AsyncSession) -> None:
    session.info.pop(_KEY, None)


async def run_after_commit(session: AsyncSession) -> None:
    """Runs the callbacks; one failing never stops the others (the row is the source of
    truth, so a lost enqueue is found again by the next sweep)."""
    callbacks: list[AfterCommit] = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.exception("db.after_commit_failed")
