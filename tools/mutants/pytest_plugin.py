"""pytest plugin for ``make mutants``: what a pytest session needs when mutmut runs several at
once, one per mutant.

- **A Redis database of its own.** The test fixtures empty their Redis database after every
  test: two sessions on one database would wipe each other's keys and "kill" mutants that
  deserved to survive. Each session takes the first free database of
  ``CHORUS_MUTANTS_REDIS_DBS`` (a lock file per database, held until the session ends or its
  process dies) and points the suite's fixtures at it.
- **Its database cloned, not migrated.** Each session creates a fresh database and migrates it
  (tests/conftest.py); two migrations at once collide on the cluster-wide application role
  ("tuple concurrently updated"), which would fail the session and count as a kill, and the
  migration is most of a mutant's fixed cost. The runner migrates one template database per
  module (``python -m tools.mutants.pytest_plugin``); each session's database is a copy of it.
- **Its quickest tests first.** A mutant is killed by its first failing test (``-x``), so the
  tests run in the order of the durations mutmut measured (``mutmut-stats.json``): a mutant a
  pure-function test kills never waits for the API tests, nor starts their servers.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import pytest

DEFAULT_DBS = "12,13"
TEMPLATE = os.environ.get("CHORUS_MUTANTS_TEMPLATE", "chorus_mutants_template")
_LOCKS = Path(tempfile.gettempdir())
_held: IO[str] | None = None


def _databases() -> list[int]:
    raw = os.environ.get("CHORUS_MUTANTS_REDIS_DBS", DEFAULT_DBS)
    return [int(part) for part in raw.split(",") if part.strip()]


def _take(databases: list[int]) -> tuple[int, IO[str]]:
    while True:
        for db in databases:
            handle = (_LOCKS / f"chorus-mutants-redis-{db}.lock").open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return db, handle
        time.sleep(0.05)  # every database in use: one of the sessions ends soon


def _from_template(conftest: Any) -> None:
    """The suite's ``create_database`` clones the template; its ``migrate`` to head of a
    clone does nothing (it is at head already)."""
    cloned: set[str] = set()
    migrate: Callable[..., Awaitable[None]] = conftest.migrate

    async def create_database(server: Any, name: str) -> Any:
        with (_LOCKS / "chorus-mutants-template.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one copy at a time: the template stays unused
            await conftest._admin_execute(server, f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        cloned.add(name)
        return server.set(database=name)

    async def migrate_unless_cloned(url: Any, revision: str = "head") -> None:
        if revision == "head" and url.database in cloned:
            return
        await migrate(url, revision)

    conftest.create_database = create_database
    conftest.migrate = migrate_unless_cloned


def pytest_sessionstart(session: pytest.Session) -> None:
    global _held
    db, _held = _take(_databases())
    for plugin in session.config.pluginmanager.get_plugins():
        if hasattr(plugin, "TEST_REDIS_DB") and hasattr(plugin, "create_database"):
            plugin.TEST_REDIS_DB = db  # tests/conftest.py
            _from_template(plugin)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stats = Path("mutmut-stats.json")
    if not stats.is_file():
        return
    durations: dict[str, float] = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _held
    if _held is not None:
        _held.close()
        _held = None


async def make_template(attempts: int = 5) -> None:
    """Drop and migrate the template (in the mutants' worktree, so at its migrations). A
    parallel test run that alters the application role makes a migration fail now and then
    ("tuple concurrently updated"): tried again."""
    from tests import conftest

    server = conftest._server_url()
    for attempt in range(1, attempts + 1):
        await conftest.drop_database(server, TEMPLATE)
        try:
            await conftest.migrate(await conftest.create_database(server, TEMPLATE))
            return
        except Exception as exc:
            if attempt == attempts or "concurrently updated" not in str(exc):
                raise
            await asyncio.sleep(1)


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    asyncio.run(make_template())
