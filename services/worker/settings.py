"""arq worker: ``arq services.worker.settings.WorkerSettings``.

Jobs are named ``domain.action``. On SIGTERM/SIGINT arq stops taking jobs and waits up to
``job_completion_wait`` seconds for running ones to finish before it exits.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings

from services.worker.context import WorkerContext
from services.worker.jobs import mail, social_accounts, system
from services.worker.registry import job
from shared import http as outbound_http
from shared.config import Settings, get_settings
from shared.db import Database
from shared.jobs import QUEUE_NAME
from shared.logging import configure_logging
from shared.mail import service as mail_service

log = structlog.get_logger("chorus.worker")


def build_functions() -> list[Any]:
    return [
        job("system.heartbeat", system.heartbeat),
        job(mail_service.DELIVER_JOB, mail.deliver),
        job(social_accounts.REFRESH_DUE_JOB, social_accounts.refresh_due),
        job(social_accounts.REFRESH_JOB, social_accounts.refresh_one),
    ]


async def startup(ctx: dict[str, Any], settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    db = Database(
        settings.app_db_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    WorkerContext(settings=settings, db=db, redis=ctx["redis"]).install(ctx)
    log.info("worker.started", queue=QUEUE_NAME)


async def shutdown(ctx: dict[str, Any]) -> None:
    wctx = ctx.get("chorus")
    if wctx is not None:
        await WorkerContext.of(ctx).db.dispose()
    await outbound_http.close()
    log.info("worker.stopped")


class WorkerSettings:
    functions = build_functions()
    cron_jobs = [
        cron(
            job("system.heartbeat", system.heartbeat).coroutine,
            name="cron:system.heartbeat",
            second={0},
            run_at_startup=True,
        ),
        cron(
            job(social_accounts.REFRESH_DUE_JOB, social_accounts.refresh_due).coroutine,
            name=f"cron:{social_accounts.REFRESH_DUE_JOB}",
            second={15},
            run_at_startup=True,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    queue_name = QUEUE_NAME
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    job_completion_wait = 30
    max_jobs = 20
    job_timeout = 300
    keep_result = 3600
    health_check_interval = 30
