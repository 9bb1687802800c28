"""A worker with the production settings plus one slow job, to prove graceful shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from services.worker.registry import job
from services.worker.settings import WorkerSettings

STARTED_KEY = "test:slow:started"


async def slow(ctx: dict[str, Any], seconds: float) -> str:
    await ctx["redis"].set(STARTED_KEY, "1")
    await asyncio.sleep(seconds)
    return "finished"


# arq reads settings from the class's own __dict__ (no inheritance), so copy them.
_production = {k: v for k, v in vars(WorkerSettings).items() if not k.startswith("__")}
SlowWorkerSettings = type(
    "SlowWorkerSettings",
    (),
    {
        **_production,
        # Jobs keep no result; this one does, for the test to read what it returned.
        "functions": [*WorkerSettings.functions, job("test.slow", slow, keep_result=60)],
        "cron_jobs": [],
    },
)
