"""Run child processes as one group and stop them together.

Why each piece:
- every child starts in its own session (``start_new_session=True``): the terminal's Ctrl-C then
  reaches only the devstack, which stops things in order (children first, databases last), and
  ``os.killpg`` also reaches the children's own children (uvicorn reloaders, shells, pytest
  plugins' helpers);
- the first child to die ends the run: a stack with a dead worker looks alive while jobs pile up;
- SIGTERM, a grace period, then SIGKILL: the shape systemd, Docker and Kubernetes use, so the app
  sees the same shutdown locally as in production;
- one-shot commands get the signal that was received (Ctrl-C reaches pytest as SIGINT, so it
  prints its summary), long-running services get SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from services.devstack import ports
from services.devstack.errors import DevStackError, say
from services.devstack.signals import SignalTrap, name

GRACE_SECONDS = 10.0
TICK_SECONDS = 0.1


@dataclass(frozen=True)
class ChildSpec:
    """One child process. `ready_port`: announce `ready_message` once it accepts connections.
    `one_shot`: a task that runs beside the services and ends (its exit stops nothing; a
    failure is reported)."""

    name: str
    argv: tuple[str, ...]
    ready_port: int | None = None
    ready_message: str = ""
    one_shot: bool = False


@dataclass(frozen=True)
class Outcome:
    """Why `Supervisor.wait` returned: a child exited (`child`, `returncode`) or a signal came."""

    child: str | None = None
    returncode: int = 0
    signal: int | None = None


def exit_status(returncode: int) -> int:
    """A shell-style exit status: 128+N for a child killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class Supervisor:
    """Starts children, waits for the first exit or signal, stops them all.

    Used as a context manager, it also stops whatever still runs when the block is left, by an
    exception included, so no child outlives the devstack."""

    def __init__(
        self,
        trap: SignalTrap,
        env: Mapping[str, str],
        cwd: Path,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self._trap = trap
        self._env = dict(env)
        self._cwd = cwd
        self._grace = grace
        self._children: list[tuple[ChildSpec, subprocess.Popen[bytes]]] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, spec: ChildSpec) -> None:
        try:
            proc = subprocess.Popen(spec.argv, env=self._env, cwd=self._cwd, start_new_session=True)
        except OSError as exc:
            raise DevStackError(
                f"cannot start {spec.name} ({spec.argv[0]}): {exc.strerror or exc}",
                status=127 if isinstance(exc, FileNotFoundError) else 126,
            ) from exc
        self._children.append((spec, proc))

    def wait(self) -> Outcome:
        """Block until a child exits or a stop signal arrives."""
        waiting_ready = [spec for spec, _ in self._children if spec.ready_port is not None]
        while True:
            if self._trap.first is not None:
                return Outcome(signal=self._trap.first)
            for spec, proc in list(self._children):
                returncode = proc.poll()
                if returncode is None:
                    continue
                if spec.one_shot:
                    self._children.remove((spec, proc))
                    if returncode != 0:
                        say(f"{spec.name} failed (exit {exit_status(returncode)}); carrying on")
                    continue
                return Outcome(child=spec.name, returncode=exit_status(returncode))
            for spec in list(waiting_ready):
                assert spec.ready_port is not None
                if ports.is_listening(spec.ready_port, timeout=0.05):
                    waiting_ready.remove(spec)
                    if spec.ready_message:
                        say(spec.ready_message)
            time.sleep(TICK_SECONDS)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Send `sig` to every child's process group, wait up to the grace period for them to
        go, then SIGKILL what is left. A further stop signal cuts the grace period short."""
        groups = [proc.pid for _, proc in self._children]
        signals_seen = len(self._trap.signals)
        live = [pgid for pgid in groups if _group_alive(pgid)]
        if not live:
            self._reap()
            return
        for pgid in live:
            _killpg(pgid, sig)
        deadline = time.monotonic() + self._grace
        while True:
            self._poll()
            live = [pgid for pgid in live if _group_alive(pgid)]
            if not live:
                break
            if time.monotonic() >= deadline or len(self._trap.signals) > signals_seen:
                names = ", ".join(s.name for s, p in self._children if p.pid in live)
                say(f"{names} still running after {name(sig)}; sending SIGKILL")
                for pgid in live:
                    _killpg(pgid, signal.SIGKILL)
                break
            time.sleep(TICK_SECONDS)
        self._reap()

    def returncode(self, child: str) -> int:
        """Exit status of a child that has exited."""
        for spec, proc in self._children:
            if spec.name == child and proc.returncode is not None:
                return exit_status(proc.returncode)
        raise KeyError(child)

    def _poll(self) -> None:
        for _, proc in self._children:
            proc.poll()

    def _reap(self) -> None:
        for _, proc in self._children:
            proc.wait()


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_one(trap: SignalTrap, env: Mapping[str, str], cwd: Path, spec: ChildSpec) -> int:
    """Run one command to completion under supervision and return its exit status.

    A stop signal is forwarded as is; whatever the command left running in its process group
    is stopped when it exits."""
    with Supervisor(trap, env, cwd) as supervisor:
        supervisor.start(spec)
        outcome = supervisor.wait()
        if outcome.signal is None:
            return outcome.returncode
        supervisor.stop(outcome.signal)
        return supervisor.returncode(spec.name)
