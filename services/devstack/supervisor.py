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
  prints its summary), long-running services get SIGTERM;
- "up" is decided by each service's own answer (an identity check, or a line it writes), and
  is announced once, through a callback, when every service and every awaited task is done
  starting: that is when ``make run`` prints its box, last.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from services.devstack.errors import DevStackError, say
from services.devstack.output import Pump, Stage, fresh_log
from services.devstack.signals import SignalTrap, name

GRACE_SECONDS = 10.0
TICK_SECONDS = 0.1
READY_TIMEOUT = 180.0
PUMP_DRAIN_SECONDS = 2.0


@dataclass(frozen=True)
class ChildSpec:
    """One child process.

    `ready`: true once the service answered as itself (it may raise `DevStackError` when
    another program answers in its place); `ready_line`: the service is ready once it wrote
    a line containing this. `one_shot`: a task that runs beside the services and ends (its
    exit stops nothing; a failure is reported); `awaited`: the stack is up only once this
    one-shot has ended. `quiet_when_up`: with piped output, once the stack is up only this
    child's problem lines reach the terminal (all of them reach its log file). An awaited
    one-shot with a `ready_line` is done for the stack once it wrote that line (its exit,
    interpreter teardown included, is not waited for)."""

    name: str
    argv: tuple[str, ...]
    ready: Callable[[], bool] | None = None
    ready_line: bytes | None = None
    one_shot: bool = False
    awaited: bool = False
    quiet_when_up: bool = False
    extra_env: tuple[tuple[str, str], ...] = ()
    """Variables for this child only (on top of the supervisor's environment)."""

    @property
    def waited_for(self) -> bool:
        return self.ready is not None or self.ready_line is not None or self.awaited


@dataclass(frozen=True)
class PipedOutput:
    """Pipe the children's output through the devstack: each line to ``<log_dir>/<name>.log``
    and, named, to the terminal."""

    log_dir: Path
    stage: Stage = field(default_factory=Stage)


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
        output: PipedOutput | None = None,
    ) -> None:
        self._trap = trap
        self._env = dict(env)
        self._cwd = cwd
        self._grace = grace
        self._output = output
        self._children: list[tuple[ChildSpec, subprocess.Popen[bytes]]] = []
        self._pumps: dict[str, Pump] = {}
        self.failed: list[str] = []
        """Awaited one-shots that ended with an error."""

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
        piped = self._output is not None
        try:
            proc = subprocess.Popen(
                spec.argv,
                env={**self._env, **dict(spec.extra_env)},
                cwd=self._cwd,
                start_new_session=True,
                stdin=subprocess.DEVNULL if piped else None,
                stdout=subprocess.PIPE if piped else None,
                stderr=subprocess.STDOUT if piped else None,
            )
        except OSError as exc:
            raise DevStackError(
                f"cannot start {spec.name} ({spec.argv[0]}): {exc.strerror or exc}",
                status=127 if isinstance(exc, FileNotFoundError) else 126,
            ) from exc
        self._children.append((spec, proc))
        if self._output is not None:
            assert proc.stdout is not None
            pump = Pump(
                spec.name,
                proc.stdout,
                fresh_log(self._output.log_dir / f"{spec.name}.log"),
                self._output.stage,
                quiet_when_up=spec.quiet_when_up,
                markers=(spec.ready_line,) if spec.ready_line else (),
            )
            self._pumps[spec.name] = pump
            pump.start()

    def wait(
        self,
        on_up: Callable[[], None] | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> Outcome:
        """Block until a child exits or a stop signal arrives. Once every service is ready and
        every awaited one-shot has ended, call `on_up` (once)."""
        started = time.monotonic()
        pending = [spec for spec, _ in self._children if spec.waited_for]
        announced = False
        while True:
            if self._trap.first is not None:
                return Outcome(signal=self._trap.first)
            for spec, proc in list(self._children):
                returncode = proc.poll()
                if returncode is None:
                    continue
                if spec.one_shot:
                    self._children.remove((spec, proc))
                    if spec in pending:
                        pending.remove(spec)
                    if returncode != 0:
                        self.failed.append(spec.name)
                        say(f"{spec.name} failed (exit {exit_status(returncode)}); carrying on")
                    continue
                self._drain(spec.name)
                return Outcome(child=spec.name, returncode=exit_status(returncode))
            for spec in [s for s in pending if not s.one_shot or s.ready_line is not None]:
                if self._is_ready(spec):
                    pending.remove(spec)
                    if not spec.one_shot:
                        say(f"{spec.name} is up ({time.monotonic() - started:.1f} s)")
            if not pending and not announced:
                announced = True
                if self._output is not None:
                    self._output.stage.mark_up()
                if on_up is not None:
                    on_up()
            if pending and time.monotonic() - started > ready_timeout:
                names = ", ".join(s.name for s in pending)
                logs = f" and {self._output.log_dir}/" if self._output is not None else ""
                raise DevStackError(
                    f"{names} not ready after {ready_timeout:.0f} s; see the lines above{logs}"
                )
            time.sleep(TICK_SECONDS)

    def _is_ready(self, spec: ChildSpec) -> bool:
        if spec.ready is not None and not spec.ready():
            return False
        if spec.ready_line is not None:
            pump = self._pumps.get(spec.name)
            return pump is not None and pump.seen(spec.ready_line)
        return True

    def _drain(self, name: str) -> None:
        """Let a child's last lines reach the screen before we talk about its exit."""
        pump = self._pumps.get(name)
        if pump is not None:
            pump.join(PUMP_DRAIN_SECONDS)

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
        for pump in self._pumps.values():
            pump.join(PUMP_DRAIN_SECONDS)


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
