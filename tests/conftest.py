"""Test fixtures: a fresh PostgreSQL database migrated to head for the session, a Redis
database of its own, the real app over ASGI, and tables emptied after every test.

The servers come from ``DATABASE_URL`` / ``REDIS_URL`` (``make test`` sets them: embedded
servers, or the ones you point it at).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.api.app import create_app
from shared.config import Settings
from shared.db import Database
from shared.db.base import Base
from tests.support.localstripe import LocalStripe
from tests.support.sandbox_server import SandboxServer

ROOT = Path(__file__).resolve().parent.parent

# Fixtures several test modules share (a test module never imports from another one).
pytest_plugins = ["tests.support.publishing", "tests.support.campaigns", "tests.support.clock"]

# Property tests a failure can be replayed from: in CI (``CI`` set) Hypothesis draws the same
# examples every run (derandomized, no example database); elsewhere it explores at random and a
# failure prints the blob that reproduces it (``@reproduce_failure``). ``HYPOTHESIS_PROFILE``
# picks one by name. Registered here, before any test module builds its ``settings(...)``, which
# take their unset values from the profile loaded at that moment.
hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True, deadline=None
)
hypothesis_settings.register_profile("dev", print_blob=True, deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
TEST_REDIS_DB = int(os.environ.get("CHORUS_TEST_REDIS_DB", "15"))
"""Emptied after every test; parallel runs on one Redis each need their own."""


def _server_url() -> URL:
    raw = os.environ.get("DATABASE_URL") or os.environ.get("CHORUS_DATABASE_URL")
    url = make_url(raw or "postgresql://postgres@127.0.0.1:5432/test")
    return url.set(drivername="postgresql+asyncpg")


def _redis_url() -> str:
    raw = os.environ.get("REDIS_URL") or os.environ.get("CHORUS_REDIS_URL")
    base = (raw or "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    return f"{base}/{TEST_REDIS_DB}"


def alembic_config(url: URL) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url.render_as_string(hide_password=False)
    return cfg


async def _admin_execute(server: URL, sql: str) -> None:
    """One statement on the server's maintenance database, on a connection closed at once."""
    conn = await asyncpg.connect(
        host=server.host,
        port=server.port,
        user=server.username,
        password=server.password,
        database="postgres",
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(server: URL, name: str) -> URL:
    await _admin_execute(server, f'CREATE DATABASE "{name}"')
    return server.set(database=name)


async def drop_database(server: URL, name: str) -> None:
    await _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate(url: URL, revision: str = "head") -> None:
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


@pytest.fixture(scope="session")
def worker_tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def database_url(worker_tag: str) -> AsyncIterator[URL]:
    server = _server_url()
    name = f"chorus_test_{worker_tag}"
    url = await create_database(server, name)
    try:
        await migrate(url)
        yield url
    finally:
        await drop_database(server, name)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_url(sandbox_server: SandboxServer) -> str:
    return sandbox_server.url


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the running sandbox (its admin API under ``/_sandbox``); the
    sandbox is reset after the test."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as c:
        yield c
        await c.post("/_sandbox/reset")


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """Billing (issue #8): a localstripe of this session's own (a fake Stripe over HTTP)."""
    server = LocalStripe().start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def settings(
    database_url: URL,
    sandbox_url: str,
    localstripe_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return Settings(
        media_root=str(tmp_path_factory.mktemp("media")),
        stripe_api_base=localstripe_url,
        stripe_environment="local",
        platform_sandbox_url=sandbox_url,
        env="test",
        database_url=database_url.render_as_string(hide_password=False),
        redis_url=_redis_url(),
        log_json=True,
        log_level="WARNING",
        db_pool_size=5,
    )


@pytest.fixture(scope="session")
async def admin_engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app_db(settings: Settings) -> AsyncIterator[Database]:
    """The application's own pool (role chorus_app, under row-level security)."""
    db = Database(settings.app_db_url, pool_size=5)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as c:
        yield c


@pytest.fixture(autouse=True)
async def _clean_state(admin_engine: AsyncEngine, redis: Redis) -> AsyncIterator[None]:
    """Every test starts from empty tables and an empty Redis database."""
    yield
    async with admin_engine.begin() as conn:
        written = [row[0] for row in await conn.execute(_WRITTEN_TABLES)]
        if written:
            tables = ", ".join(f'"{name}"' for name in written)
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    await redis.flushdb()


_WRITTEN_TABLES = text(
    " UNION ALL ".join(
        f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
        for t in Base.metadata.sorted_tables
    )
)
"""The tables a test left rows in (one statement): only those are truncated, as a TRUNCATE
costs each table new files and, on a server that syncs to disk, a sync of each at commit."""
