"""``all_or_nothing``: a page's write under a savepoint, so that a refused write (a service's
``AppError``) leaves the request's transaction, and its tenant setting for row-level
security, in place for the page that explains the refusal; what the write registered to run
after commit (enqueues, mail) is forgotten with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import hooks


@asynccontextmanager
async def all_or_nothing(
    session: AsyncSession, touched: Iterable[object] = ()
) -> AsyncIterator[None]:
    """On an error inside, the savepoint is rolled back, the after-commit callbacks it
    registered are dropped, and the ``touched`` objects are read again (the rollback expired
    what it changed on them, and a page renders them); the error is raised again."""
    callbacks = session.info.get(hooks._KEY)
    registered = len(callbacks) if callbacks is not None else 0
    savepoint = await session.begin_nested()
    try:
        yield
    except BaseException:
        await savepoint.rollback()
        kept = session.info.get(hooks._KEY)
        if kept is not None:
            del kept[registered:]
        for obj in touched:
            await session.refresh(obj)
        raise
    await savepoint.commit()
