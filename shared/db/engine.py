"""Engine and session factory. The boundary (request, job) owns the transaction; services flush."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.db import hooks
from shared.db.tenancy import set_tenant


class Database:
    def __init__(self, url: URL, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=False,
            connect_args={"server_settings": {"application_name": "chorus", "timezone": "UTC"}},
        )
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
