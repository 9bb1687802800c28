"""The services' output under ``make run``: piped through the devstack, one line at a time.

Why pipe it instead of letting the children write to the terminal:
- every line reaches the screen whole and named (``api          | ...``), never inside the
  start-up box, which is written under the same lock (`errors.CONSOLE`);
- a worker is ready when it says so itself (its ``worker.started`` event), which only its
  output tells;
- every line is also kept in ``<data>/logs/<service>.log``, so a quiet service loses nothing:
  the bulk worker (backfills and collections, two lines per job, a hundred jobs after each
  demo connect) shows only its problems once the stack is up, or it would push the logins
  off the screen within seconds.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import IO

from services.devstack.errors import write

PREFIX_WIDTH = 12

PROBLEM = re.compile(
    rb'"level":\s*"(warning|error|critical|exception)"'
    rb"|\[(warning|error|critical)\s*\]"
    rb"|Traceback|Error\b|\berror\b| failed\b| ! |exceeded|expired",
)
"""What a quiet service still shows: structlog's warning and error events (JSON or console),
tracebacks, and arq's failed, expired and retries-exceeded job lines."""


class Stage:
    """Whether the stack is up yet (the box printed); quiet services go quiet after that."""

    def __init__(self) -> None:
        self._up = threading.Event()

    def mark_up(self) -> None:
        self._up.set()

    @property
    def up(self) -> bool:
        return self._up.is_set()


class Pump:
    """Copies one child's output to its log file and (as its policy says) to the terminal,
    and remembers which of the `markers` it has seen."""

    def __init__(
        self,
        name: str,
        stream: IO[bytes],
        log_path: Path,
        stage: Stage,
        *,
        quiet_when_up: bool = False,
        markers: tuple[bytes, ...] = (),
    ) -> None:
        self.name = name
        self._stream = stream
        self._log_path = log_path
        self._stage = stage
        self._quiet_when_up = quiet_when_up
        self._markers = markers
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"pump-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def seen(self, marker: bytes) -> bool:
        with self._lock:
            return marker in self._seen

    def _run(self) -> None:
        prefix = f"{self.name:<{PREFIX_WIDTH}}| "
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as log:
            for raw in iter(self._stream.readline, b""):
                log.write(raw)
                log.flush()
                for marker in self._markers:
                    if marker in raw:
                        with self._lock:
                            self._seen.add(marker)
                if self._shows(raw):
                    write(prefix + raw.decode(errors="replace").rstrip("\r\n"))
        self._stream.close()

    def _shows(self, raw: bytes) -> bool:
        if not (self._quiet_when_up and self._stage.up):
            return True
        return PROBLEM.search(raw) is not None


def fresh_log(path: Path) -> Path:
    """Start a service's log for this run, keeping the previous run's as ``<name>.log.1``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_name(path.name + ".1"))
    return path
