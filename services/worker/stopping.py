"""What a worker does the moment it is asked to stop, before arq's own signal handling.

arq, on SIGTERM or SIGINT with ``job_completion_wait`` set, stops taking jobs and waits for
the running ones. A publish job may hold posts still waiting behind a slow platform's gate:
they must be handed back at once (another worker sends them) rather than sent one gate-full
at a time while the grace period runs out. So the worker chains its own callbacks in front
of arq's handler: the dispatcher stops leasing, the publisher hands back what waits, and
arq then waits only for requests already in flight (each ends within its attempt timeout).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog

log = structlog.get_logger("chorus.worker")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(callback: Callable[[], None]) -> None:
    """Runs ``callback`` first whenever SIGTERM or SIGINT arrives, then whatever handler the
    running loop had for it (arq's). Call from inside the worker's loop, after arq installed
    its handlers (its ``on_startup`` is such a place)."""
    loop = asyncio.get_running_loop()
    installed: dict[int, asyncio.Handle] = getattr(loop, "_signal_handlers", {})
    for sig in SIGNALS:
        previous = installed.get(sig)

        def chained(sig: signal.Signals = sig, previous: asyncio.Handle | None = previous) -> None:
            log.info("worker.stopping", signal=sig.name)
            try:
                callback()
            finally:
                if previous is not None and not previous.cancelled():
                    previous._run()

        try:
            loop.add_signal_handler(sig, chained)
        except (NotImplementedError, RuntimeError):  # not the main thread: nothing to chain
            return
