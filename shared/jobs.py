"""Job names, the queue, and the one enqueue helper (the API never imports worker code)."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job

QUEUE_NAME = "arq:queue"
JOB_COUNTS_KEY = "chorus:jobs:counts"
HEARTBEAT_KEY = "chorus:worker:heartbeat"


async def enqueue(
    redis: ArqRedis, name: str, *args: Any, job_id: str | None = None, **kwargs: Any
) -> Job | None:
    """Enqueue ``name`` (``domain.action``). With ``job_id`` a duplicate enqueue is a no-op.
    Call only after the transaction that made the job necessary has committed."""
    return await redis.enqueue_job(name, *args, _job_id=job_id, _queue_name=QUEUE_NAME, **kwargs)
