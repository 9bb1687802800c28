"""Alembic environment: async engine on the owner/admin URL (never the chorus_app role).

The URL comes from ``config.attributes["url"]`` when a caller (tests, the dev stack) passes one,
else from settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import shared.models  # noqa: F401  (fills the metadata)
from shared.config import get_settings
from shared.db.base import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url is not None:
        return str(url)
    return get_settings().admin_db_url.render_as_string(hide_password=False)


def _app_role_password() -> None:
    if "app_role_password" not in config.attributes:
        settings = get_settings()
        if settings.app_database_url is None:
            config.attributes["app_role_password"] = (
                settings.database_app_password.get_secret_value()
            )


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


_app_role_password()
if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
