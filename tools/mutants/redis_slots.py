"""pytest plugin for ``make mutants``: a Redis database of its own for each pytest session.

mutmut runs several mutants at once, each a forked pytest session, and the test fixtures empty
their Redis database after every test: two sessions on one database would wipe each other's
keys and "kill" mutants that deserved to survive. Each session takes the first free database of
``CHORUS_MUTANTS_REDIS_DBS`` (a lock file per database, held until the session ends or its
process dies) and points the suite's fixtures at it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path
from typing import IO

import pytest

DEFAULT_DBS = "12,13,14"
_held: IO[str] | None = None


def _databases() -> list[int]:
    raw = os.environ.get("CHORUS_MUTANTS_REDIS_DBS", DEFAULT_DBS)
    return [int(part) for part in raw.split(",") if part.strip()]


def _take(databases: list[int]) -> tuple[int, IO[str]]:
    folder = Path(tempfile.gettempdir())
    while True:
        for db in databases:
            handle = (folder / f"chorus-mutants-redis-{db}.lock").open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return db, handle
        time.sleep(0.05)  # every database in use: one of the sessions ends soon


def pytest_sessionstart(session: pytest.Session) -> None:
    global _held
    db, _held = _take(_databases())
    for plugin in session.config.pluginmanager.get_plugins():
        if hasattr(plugin, "TEST_REDIS_DB"):  # tests/conftest.py
            plugin.TEST_REDIS_DB = db


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _held
    if _held is not None:
        _held.close()
        _held = None
