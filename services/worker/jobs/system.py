"""Worker housekeeping jobs."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

import structlog

from services.worker.context import WorkerContext
from shared.jobs import HEARTBEAT_KEY

log = structlog.get_logger("chorus.worker")

HEARTBEAT_TTL_SECONDS = 180


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Says this worker is alive (``/readyz`` peers and operators read the key)."""
    wctx = WorkerContext.of(ctx)
    stamp = datetime.now(UTC).isoformat()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    await wctx.redis.hset(HEARTBEAT_KEY, worker, stamp)  # type: ignore[misc]
    await wctx.redis.expire(HEARTBEAT_KEY, HEARTBEAT_TTL_SECONDS)
    log.info("worker.heartbeat", worker=worker)
    return stamp
