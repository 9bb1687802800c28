from __future__ import annotations

import asyncio
import uuid

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.base import Base
from tests.conftest import _server_url, alembic_config, create_database, drop_database


async def _tables(url: object) -> set[str]:
    engine = create_async_engine(url)  # type: ignore[arg-type]
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


async def test_upgrade_to_head_and_back_down_on_an_empty_database() -> None:
    server = _server_url()
    name = f"chorus_migrations_{uuid.uuid4().hex[:8]}"
    url = await create_database(server, name)
    try:
        cfg = alembic_config(url)
        await asyncio.to_thread(command.upgrade, cfg, "head")
        model_tables = {t.name for t in Base.metadata.sorted_tables}
        assert model_tables <= await _tables(url)

        await asyncio.to_thread(command.downgrade, cfg, "base")
        assert await _tables(url) == {"alembic_version"}

        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert model_tables <= await _tables(url)
    finally:
        await drop_database(server, name)


async def test_models_and_migrations_agree(database_url: object) -> None:
    """Autogenerate against the migrated database finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_async_engine(database_url)  # type: ignore[arg-type]
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert diff == []
