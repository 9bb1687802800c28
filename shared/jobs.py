"""Job names, the queues, and the one enqueue helper (the API never imports worker code).

Two queues, each drained by its own worker processes with their own capacity, so urgent
work is never stuck behind bulk work:

- ``URGENT_QUEUE`` (arq's default name, so ``arq services.worker.settings.WorkerSettings``
  and every tool that reads ``QUEUE_NAME`` keep working): what a user is waiting for or a
  deadline depends on: campaign fan-out, publishing, review replies, mail and approval
  notifications, token refresh (an expired token blocks publishing), Stripe webhooks.
- ``BULK_QUEUE``: work measured in thousands that nobody is watching: metric collection and
  backfills, review collection, rollups, exports.

A job is routed by its NAME alone (``queue_for``), so callers keep calling
``enqueue(redis, name, ...)`` and cannot put a job in the wrong queue. Unknown names go to
the urgent queue: a new latency-critical job must not be starved by accident, and a bulk job
that lands there by mistake is only early.

Backfills are also paced at enqueue (``PACED``): connecting 600 accounts at once queues 600
backfills, which would otherwise fill the bulk queue's capacity for minutes and hold the
daily collections behind them. Each paced job gets the next free slot of its name (``1 /
rate`` seconds apart, across every process, through one Redis key), so they reach the
workers at a steady rate instead of as one wall.
"""

from __future__ import annotations

import time
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job

URGENT_QUEUE = "arq:queue"
BULK_QUEUE = "arq:queue:bulk"
QUEUE_NAME = URGENT_QUEUE
"""The urgent queue (the name the rest of the code and the tests have always used)."""
QUEUES = {"urgent": URGENT_QUEUE, "bulk": BULK_QUEUE}

JOB_COUNTS_KEY = "chorus:jobs:counts"
HEARTBEAT_KEY = "chorus:worker:heartbeat"
STRIPE_INBOX_KEY = "chorus:billing:stripe_inbox"
"""The Stripe webhook inbox's health as the billing sweep last counted it (for /metrics)."""

BULK_JOBS = frozenset(
    {
        "metrics.collect_due",
        "metrics.collect_account",
        "metrics.backfill_account",
        "metrics.collect_posts",
        "reviews.collect",
    }
)
BULK_PREFIXES = ("rollups.", "exports.", "analytics.")
"""Whole domains of bulk work (rollups, exports) go to the bulk queue by prefix."""

PACED: dict[str, float] = {"metrics.backfill_account": 2.0}
"""Jobs started at most this many per second (all processes together), by name."""
PACE_KEY = "chorus:jobs:pace:"


def queue_for(name: str) -> str:
    if name in BULK_JOBS or name.startswith(BULK_PREFIXES):
        return BULK_QUEUE
    return URGENT_QUEUE


# Atomically: the paced job's start is max(now, next free slot); the next slot moves one
# step on. The key expires once the schedule it describes is in the past.
_PACE = """
local now = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], tostring(slot + step), 'PX', math.ceil(slot + step - now) + 1000)
return tostring(slot)
"""


async def pace(redis: ArqRedis, name: str, per_second: float) -> float:
    """Seconds to defer this run of ``name`` so that its runs start ``1 / per_second`` apart."""
    now_ms = time.time() * 1000
    step_ms = 1000 / per_second
    slot = float(await redis.eval(_PACE, 1, PACE_KEY + name, str(now_ms), str(step_ms)))  # type: ignore[misc]
    return max(0.0, (slot - now_ms) / 1000)


async def enqueue(
    redis: ArqRedis, name: str, *args: Any, job_id: str | None = None, **kwargs: Any
) -> Job | None:
    """Enqueue ``name`` (``domain.action``) on its queue. With ``job_id`` a duplicate enqueue is
    a no-op while the job is queued or running; once it has finished (or failed) the id is
    free again (the workers keep no results), so a sweep can always hand the work on again.
    Call only after the transaction that made the job necessary has committed."""
    rate = PACED.get(name)
    if rate and kwargs.get("_defer_by") is None and kwargs.get("_defer_until") is None:
        kwargs["_defer_by"] = await pace(redis, name, rate) or None
    return await redis.enqueue_job(
        name, *args, _job_id=job_id, _queue_name=queue_for(name), **kwargs
    )
