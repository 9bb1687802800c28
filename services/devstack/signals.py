"""Signals: the devstack records SIGINT, SIGTERM and SIGHUP instead of dying on them.

Why record instead of raise: a ``KeyboardInterrupt`` can land anywhere, e.g. between writing a
file and closing it, or in the middle of stopping PostgreSQL, and then the servers keep running
with nobody to stop them. Recorded signals are acted on at known points: between start-up steps
(`SignalTrap.check`), and in the supervisor's loop, which forwards them to the children and then
stops the servers in order. A second signal while stopping means "hurry": remaining children
are killed at once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class Interrupted(Exception):
    """Raised by `SignalTrap.check` when a stop signal was received."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalTrap:
    """While entered, stop signals are appended to `signals` instead of ending the process."""

    def __init__(self) -> None:
        self.signals: list[int] = []
        self._previous: dict[int, _Handler] = {}

    def __enter__(self) -> SignalTrap:
        for sig in HANDLED:
            self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            if handler is not None:
                signal.signal(sig, handler)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)

    @property
    def first(self) -> int | None:
        """The first signal received, if any."""
        return self.signals[0] if self.signals else None

    def check(self) -> None:
        """Raise `Interrupted` if a stop signal has arrived."""
        if self.signals:
            raise Interrupted(self.signals[0])


def name(signum: int) -> str:
    """``SIGINT`` for 2, and so on."""
    return signal.Signals(signum).name
