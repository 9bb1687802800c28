"""The backing servers of one devstack command: external ones named by the environment, or
embedded ones that are started (or joined) on entry and stopped (or left to others) on exit.

Everything started is registered for stopping before it is started, on one ``ExitStack``, so
an interrupt or a failure at any point of the start-up still stops exactly what was started,
and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from services.devstack import urls
from services.devstack.errors import say
from services.devstack.postgres import EmbeddedPostgres
from services.devstack.redis_server import EmbeddedRedis
from services.devstack.sharing import DataDirLock, Users
from services.devstack.signals import SignalTrap

LOCK_FILE = ".devstack.lock"


class EmbeddedServer(Protocol):
    key: str
    title: str

    def describe(self) -> str: ...
    def running_url(self) -> str | None: ...
    def start(self) -> str: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Backend:
    """One backing server as the children see it."""

    title: str
    url: str
    origin: str  # "embedded PostgreSQL 18, data in …" or "from DATABASE_URL"
    external: bool = False

    def summary(self) -> str:
        return f"{self.title}: {urls.redact(self.url)} ({self.origin})"


def embedded_servers(data_dir: Path) -> list[EmbeddedServer]:
    """The embedded servers on `data_dir`, in start order (they are stopped in reverse)."""
    return [EmbeddedPostgres(data_dir / "postgres"), EmbeddedRedis(data_dir / "redis")]


class DevStack:
    """Context manager: ``database`` and ``redis`` are usable inside the ``with`` block."""

    def __init__(self, data_dir: Path, environ: Mapping[str, str], trap: SignalTrap) -> None:
        self.data_dir = data_dir
        self._environ = dict(environ)
        self._trap = trap
        self._exit = ExitStack()
        self.database: Backend | None = None
        self.redis: Backend | None = None

    def __enter__(self) -> DevStack:
        try:
            self.database = self._backend(
                "PostgreSQL",
                urls.DATABASE_ENV,
                lambda: EmbeddedPostgres(self.data_dir / "postgres"),
            )
            self.redis = self._backend(
                "Redis", urls.REDIS_ENV, lambda: EmbeddedRedis(self.data_dir / "redis")
            )
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit.close()

    def child_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Our environment plus the backing servers' URLs, for every child process."""
        assert self.database is not None
        assert self.redis is not None
        env = dict(self._environ)
        env["DATABASE_URL"] = self.database.url
        env["REDIS_URL"] = self.redis.url
        env.setdefault("CHORUS_ENV", "development")
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(extra or {})
        return env

    def summaries(self) -> list[str]:
        return [b.summary() for b in (self.database, self.redis) if b is not None]

    def _backend(
        self, title: str, env_names: tuple[str, ...], make: Callable[[], EmbeddedServer]
    ) -> Backend:
        found = urls.external(self._environ, env_names)
        if found is not None:
            variable, url = found
            return Backend(title, url, f"external, from {variable}", external=True)
        self._trap.check()
        server = make()
        return Backend(title, self._join(server), server.describe())

    def _join(self, server: EmbeddedServer) -> str:
        """Start `server`, or join it if another devstack runs it; leave it on exit."""
        users = Users(self.data_dir / f"{server.key}.users")
        with DataDirLock(self.data_dir / LOCK_FILE, self._trap):
            others = users.join(os.getpid())
            self._exit.callback(self._leave, server, users)
            url = server.running_url()
            if url is None:
                url = server.start()
            elif others:
                pids = ", ".join(map(str, others))
                say(f"sharing {server.title} with the devstack running as PID {pids}")
        return url

    def _leave(self, server: EmbeddedServer, users: Users) -> None:
        with DataDirLock(self.data_dir / LOCK_FILE):
            remaining = users.leave(os.getpid())
            if remaining:
                pids = ", ".join(map(str, remaining))
                say(f"leaving {server.title} running for the devstack running as PID {pids}")
                return
            server.stop()


def stop_embedded(data_dir: Path) -> int:
    """Stop embedded servers left running on `data_dir`, unless a live devstack uses them."""
    status = 0
    with DataDirLock(data_dir / LOCK_FILE):
        for server in reversed(embedded_servers(data_dir)):
            users = Users(data_dir / f"{server.key}.users").alive()
            if users:
                pids = ", ".join(map(str, users))
                say(
                    f"{server.title} is in use by the devstack running as PID {pids}; stop it first"
                )
                status = 1
                continue
            server.stop()
    return status
