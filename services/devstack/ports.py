"""Loopback TCP ports for the embedded servers and the API.

Why: a stable port (54329 for PostgreSQL, 56379 for Redis) keeps the URLs the same from one run
to the next, so a psql history or a GUI connection keeps working; when something else already
listens there we take a port the kernel hands out instead of failing. The probe binds with
``SO_REUSEADDR`` like PostgreSQL, Redis and uvicorn do, so connections of a server that just
stopped (TIME_WAIT) do not make its own port look taken.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from services.devstack.errors import DevStackError
from services.devstack.urls import LOOPBACK


def is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick(preferred: int, host: str = LOOPBACK) -> int:
    """`preferred` when it is free, else any free port."""
    if is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_listening(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class PortSetting:
    """A port of ``make run`` a person can move with an environment variable."""

    variable: str
    default: int
    title: str

    def read(self, env: Mapping[str, str]) -> int:
        raw = env.get(self.variable, "").strip() or str(self.default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise DevStackError(f"{self.variable} must be a port number, not {raw!r}")
        return int(raw)

    def busy(self, port: int) -> DevStackError:
        """The one message for a port that is taken, whichever service wanted it."""
        return DevStackError(
            f"port {port} ({self.title}) is already in use (another `make run`?); "
            f"stop that or choose another with {self.variable}={neighbour(port)}"
        )


def neighbour(port: int) -> int:
    """The port to suggest instead of a busy one."""
    return port + 1 if port < 65535 else port - 1
