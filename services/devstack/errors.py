"""The devstack's own failures, and how it talks to a person.

Why: a failure to start a server is an expected, explainable event (a port taken, a data
directory from another PostgreSQL version), so it is reported as one readable line plus the
server's log tail, never a traceback. Every message goes to stderr so that the stdout of
``devstack exec -- CMD`` stays exactly CMD's stdout and can be piped.
"""

from __future__ import annotations

import contextlib
import sys
import threading

CONSOLE = threading.RLock()
"""Held while writing to the terminal: the devstack's messages, the services' lines (piped
through it by ``make run``) and the start-up box each reach the screen whole."""


class DevStackError(Exception):
    """A problem the person running the devstack can fix; the message says how.

    `status` is the exit status the devstack ends with (127: a command that was not found)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def say(message: str) -> None:
    """Print one devstack message to stderr.

    A closed stderr (the terminal went away, ``make run | less`` quit) must not abort stopping
    the children and the servers half-way, so write errors are ignored."""
    write(f"devstack: {message}")


def write(text: str) -> None:
    """Write `text` (one or more lines) to stderr in one piece and flush it."""
    with CONSOLE, contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
