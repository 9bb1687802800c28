"""Sharing the embedded servers between devstack processes.

Why: ``make run`` in one terminal and ``make test`` in another use the same ``.data/``
directory, so they must share its servers rather than fight over them. Each embedded server
has a list of the devstack PIDs using it; the last one to leave stops it. A server whose users
all died (``kill -9``, a closed laptop) has no live user left, so the next devstack adopts it
and stops it when it leaves. A file lock makes each "join, then start or reuse" and each
"leave, then stop or not" step atomic.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from services.devstack.errors import say
from services.devstack.osutil import cmdline, pid_alive
from services.devstack.signals import SignalTrap


class DataDirLock:
    """An exclusive ``flock`` on a file in the data directory.

    With a `trap`, waiting for the lock can be interrupted by a stop signal; without one
    (used while stopping) it waits for as long as it takes."""

    def __init__(self, path: Path, trap: SignalTrap | None = None) -> None:
        self._path = path
        self._trap = trap
        self._file: IO[str] | None = None

    def __enter__(self) -> DataDirLock:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a")
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    say("waiting for another devstack to finish starting or stopping servers")
                    told = True
                if self._trap is not None:
                    try:
                        self._trap.check()
                    except BaseException:
                        handle.close()
                        raise
                time.sleep(0.1)
        self._file = handle
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def is_devstack(pid: int) -> bool:
    """True when `pid` is a live devstack process (not a PID reused by something else)."""
    if not pid_alive(pid):
        return False
    command = cmdline(pid)
    return command is None or "services.devstack" in command


class Users:
    """The PIDs of the devstack processes using one server, in a JSON file. Call under the lock."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def alive(self, exclude: int | None = None) -> list[int]:
        """Live users other than `exclude`."""
        return [pid for pid in self._read() if pid != exclude and is_devstack(pid)]

    def join(self, pid: int) -> list[int]:
        """Add `pid`; return the other live users."""
        others = self.alive(exclude=pid)
        self._write([*others, pid])
        return others

    def leave(self, pid: int) -> list[int]:
        """Remove `pid`; return the live users that remain."""
        others = self.alive(exclude=pid)
        self._write(others)
        return others

    def _read(self) -> list[int]:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [pid for pid in data if isinstance(pid, int)]

    def _write(self, pids: list[int]) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(pids))
        os.replace(tmp, self._path)
