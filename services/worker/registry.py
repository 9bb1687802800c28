"""Wraps job coroutines: named ``domain.action``, logged with their id, counted by outcome in
Redis so the API's ``/metrics`` shows job counts of every worker process, and retried with
back-off when they fail for a transient reason.

How a failed job comes back, and why this way:

- A transient failure (the database unreachable or restarting, a deadlock, a serialization
  failure, a lock or statement timeout, Redis unreachable, a platform's 5xx/429/timeout)
  raises arq's ``Retry`` with a delay from an explicit schedule with jitter (``BACKOFF_S``,
  ±20 % so a fleet of jobs failed by one outage does not come back as one wave), at most
  ``max_tries`` runs. The retry happens inside arq under the same job id, so nothing can
  enqueue a duplicate meanwhile. Anything else is permanent: logged, counted, not retried.
- Jobs keep no result (``keep_result=0``, here and in the worker settings). arq refuses to
  enqueue a job id while that id's result exists, so a kept result of a failed job blocked
  the sweeps that find lost work in PostgreSQL (``billing.sweep``, ``reviews.sweep``,
  ``social_account.refresh_due``, …) from handing it on again, for as long as results
  were kept (an hour). The job id still de-duplicates while a job is queued or running,
  which is what the ids are for; what a job did is recorded in PostgreSQL, not in its result.
- A job that gives up after ``max_tries`` is not lost: the row that made it necessary still
  says so, and its sweep enqueues it again on the sweep's own schedule.
"""

from __future__ import annotations

import errno
import functools
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from arq import Retry
from arq.worker import Function, func
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from shared.jobs import JOB_COUNTS_KEY
from shared.platforms.errors import PlatformError

log = structlog.get_logger("chorus.worker")

JobFn = Callable[..., Awaitable[Any]]

BACKOFF_S: tuple[float, ...] = (1, 5, 20, 60, 300, 900, 1800)
"""Delay before each retry after a transient failure (then the job gives up to its sweep):
the first ones short (a deadlock or a failover is over in seconds), the last ones long (an
outage is not). 7 retries, about 50 minutes in all."""

TRANSIENT_SQLSTATES = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "55P03": "lock timeout",
    "57014": "statement timeout",
    "57P01": "database shutting down",
    "57P02": "database crashed",
    "57P03": "database starting up",
    "53300": "too many database connections",
    "25006": "read-only database (failover in progress)",
}
TRANSIENT_SQLSTATE_CLASSES = {"08": "database connection lost", "53": "database out of resources"}
NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)


def backoff_delay(schedule: Sequence[float], attempt: int, *, at_least: float = 0.0) -> float:
    """The delay before retry number ``attempt`` (1-based) on ``schedule``, with ±20 % jitter,
    never less than ``at_least`` (a platform's Retry-After)."""
    base = max(float(schedule[min(max(attempt, 1) - 1, len(schedule) - 1)]), at_least)
    return base * random.uniform(0.8, 1.2)


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (getattr(exc, "orig", None), exc):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def transient_reason(exc: BaseException) -> str | None:
    """Why ``exc`` is worth retrying as it is, or None when it is not (looks at its causes
    too: drivers wrap what really happened)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = _own_reason(current)
        if reason is not None:
            return reason
        current = current.__cause__ or current.__context__
    return None


def _own_reason(exc: BaseException) -> str | None:
    if isinstance(exc, PlatformError):
        return f"{exc.platform} {exc.kind.value}" if exc.retryable else None
    if isinstance(exc, sa_errors.DBAPIError) and exc.connection_invalidated:
        return "database connection lost"
    code = _sqlstate(exc)
    if code is not None:
        return TRANSIENT_SQLSTATES.get(code) or TRANSIENT_SQLSTATE_CLASSES.get(code[:2])
    if isinstance(exc, sa_errors.OperationalError):  # asyncpg: raised only for connections
        return "database unavailable"
    if isinstance(exc, sa_errors.TimeoutError):
        return "database pool exhausted"
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return "redis unreachable"
    if isinstance(exc, redis_errors.ReadOnlyError):
        return "redis failing over"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError) or (
        isinstance(exc, OSError)
        and (exc.errno in NETWORK_ERRNOS or "Connect call failed" in str(exc))
    ):
        return f"connection failed ({type(exc).__name__})"
    return None


def _retry_after(exc: BaseException) -> float:
    """What a platform asked for (Retry-After), wherever it is in the chain."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            break
        if isinstance(current, PlatformError):
            return float(current.retry_after or 0.0)
        current = current.__cause__ or current.__context__
    return 0.0


def job(
    name: str,
    coroutine: JobFn,
    *,
    backoff: Sequence[float] = BACKOFF_S,
    retry_transient: bool = True,
    **options: Any,
) -> Function:
    """An arq function named ``name``. ``retry_transient=False`` for jobs that handle their own
    failures (a cron's next run, a publish batch whose lease brings its posts back)."""
    options.setdefault("keep_result", 0)
    options.setdefault("max_tries", len(backoff) + 1)
    max_tries = int(options["max_tries"])

    @functools.wraps(coroutine)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        structlog.contextvars.clear_contextvars()
        tries = int(ctx.get("job_try") or 1)
        structlog.contextvars.bind_contextvars(job=name, job_id=ctx.get("job_id"), job_try=tries)
        outcome = "error"
        try:
            result = await coroutine(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except Retry:
            outcome = "retry"
            raise
        except Exception as exc:
            reason = transient_reason(exc) if retry_transient else None
            if reason is None:
                raise
            if tries >= max_tries:
                log.error("job.gave_up", reason=reason, error=repr(exc)[:500])
                raise
            delay = backoff_delay(backoff, tries, at_least=_retry_after(exc))
            log.warning(
                "job.retrying", reason=reason, retry_in_s=round(delay, 2), error=repr(exc)[:500]
            )
            outcome = "retry"
            raise Retry(defer=delay) from exc
        finally:
            try:
                await ctx["redis"].hincrby(JOB_COUNTS_KEY, f"{name}:{outcome}", 1)
            except Exception:  # counting must never fail a job
                log.warning("worker.job_count_failed", exc_info=True)
            structlog.contextvars.clear_contextvars()

    return func(run, name=name, **options)
