"""Wraps job coroutines: named ``domain.action``, logged with their id, and counted by
outcome in Redis so the API's ``/metrics`` shows job counts of every worker process."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq import Retry
from arq.worker import Function, func

from shared.jobs import JOB_COUNTS_KEY

log = structlog.get_logger("chorus.worker")

JobFn = Callable[..., Awaitable[Any]]


def job(name: str, coroutine: JobFn, **options: Any) -> Function:
    @functools.wraps(coroutine)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            job=name, job_id=ctx.get("job_id"), job_try=ctx.get("job_try")
        )
        outcome = "error"
        try:
            result = await coroutine(ctx, *args, **kwargs)
            outcome = "ok"
            return result
        except Retry:
            outcome = "retry"
            raise
        finally:
            try:
                await ctx["redis"].hincrby(JOB_COUNTS_KEY, f"{name}:{outcome}", 1)
            except Exception:  # counting must never fail a job
                log.warning("worker.job_count_failed", exc_info=True)
            structlog.contextvars.clear_contextvars()

    return func(run, name=name, **options)
