"""What every job gets: the database, Redis and settings, opened once per worker process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis

from shared.config import Settings
from shared.db import Database

if TYPE_CHECKING:
    from services.worker.loops import Loops
    from shared.publishing.publisher import Publisher

_KEY = "chorus"


@dataclass(slots=True)
class WorkerContext:
    settings: Settings
    db: Database
    redis: ArqRedis
    publisher: Publisher | None = None
    loops: Loops | None = None

    @classmethod
    def of(cls, ctx: dict[str, Any]) -> WorkerContext:
        wctx: WorkerContext = ctx[_KEY]
        return wctx

    def stop_soon(self) -> None:
        """Asked to stop: no new dispatch, and publish jobs hand back what still waits."""
        if self.loops is not None:
            self.loops.stop_soon()
        if self.publisher is not None:
            self.publisher.stop()

    def install(self, ctx: dict[str, Any]) -> None:
        ctx[_KEY] = self
