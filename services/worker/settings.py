"""arq worker: ``arq services.worker.settings.WorkerSettings``.

Jobs are named ``domain.action``. On SIGTERM/SIGINT arq stops taking jobs and waits up to
``job_completion_wait`` seconds for running ones to finish before it exits.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from arq import cron
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy.ext.asyncio import AsyncSession

from services.worker.context import WorkerContext
from services.worker.jobs import (
    billing,
    campaigns,
    mail,
    metrics,
    publishing,
    reviews,
    social_accounts,
    system,
)
from services.worker.loops import PUBLISH_JOB, Loops
from services.worker.registry import job
from shared import http as outbound_http
from shared.approvals import service as approvals
from shared.config import Settings, get_settings
from shared.db import Database
from shared.events.models import OutboxEvent
from shared.events.relay import Relay
from shared.jobs import QUEUE_NAME
from shared.logging import configure_logging
from shared.mail import service as mail_service
from shared.platforms import registry as platform_registry
from shared.publishing.limiter import AccountLimiter
from shared.publishing.publisher import Publisher
from shared.publishing.sweeps import complete_finished_campaigns, skip_overdue_approvals

log = structlog.get_logger("chorus.worker")


def build_functions() -> list[Any]:
    return [
        job("system.heartbeat", system.heartbeat),
        job(mail_service.DELIVER_JOB, mail.deliver),
        job(social_accounts.REFRESH_DUE_JOB, social_accounts.refresh_due),
        job(social_accounts.REFRESH_JOB, social_accounts.refresh_one),
        job(PUBLISH_JOB, publishing.publish_batch),
        job(campaigns.FAN_OUT_JOB, campaigns.fan_out),
        job(metrics.COLLECT_DUE_JOB, metrics.collect_due),
        job(metrics.COLLECT_JOB, metrics.collect_account),
        job(metrics.BACKFILL_JOB, metrics.backfill_account),
        job(reviews.SWEEP_JOB, reviews.sweep),
        job("billing.process_stripe_event", billing.process_stripe_event),
        job("billing.sync_quantity", billing.sync_quantity),
        job("billing.sweep", billing.sweep),
        job(reviews.COLLECT_JOB, reviews.collect),
        job(reviews.SEND_REPLY_JOB, reviews.send_reply),
    ]


def build_relay(settings: Settings, redis: ArqRedis) -> Relay:
    """The outbox's consumers. (Webhook delivery to agencies will subscribe here.)"""
    relay = Relay()

    async def mail_approvers(
        session: AsyncSession, agency_id: uuid.UUID, events: list[OutboxEvent]
    ) -> None:
        post_ids = [e.subject_id for e in events if e.subject_id is not None]
        await approvals.notify_pending(session, settings, agency_id, post_ids, redis=redis)

    relay.on("post.needs_approval", mail_approvers)
    return relay


async def startup(
    ctx: dict[str, Any], settings: Settings | None = None, *, start_loops: bool = True
) -> None:
    """``start_loops=False`` for tests that drive the dispatcher themselves."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    db = Database(
        settings.app_db_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    wctx = WorkerContext(settings=settings, db=db, redis=ctx["redis"])
    wctx.publisher = Publisher(db, AccountLimiter(ctx["redis"]), settings)
    if start_loops:
        wctx.loops = Loops(
            settings,
            db,
            ctx["redis"],
            build_relay(settings, ctx["redis"]),
            [complete_finished_campaigns, skip_overdue_approvals],
        )
        wctx.loops.start()
    wctx.install(ctx)
    log.info("worker.started", queue=QUEUE_NAME, loops=start_loops)


async def shutdown(ctx: dict[str, Any]) -> None:
    wctx = ctx.get("chorus")
    if wctx is not None:
        loops = WorkerContext.of(ctx).loops
        if loops is not None:
            await loops.stop()
        await WorkerContext.of(ctx).db.dispose()
    await outbound_http.close()
    await platform_registry.close()
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
        cron(
            job("billing.sweep", billing.sweep).coroutine,
            name="cron:billing.sweep",
            second={0, 15, 30, 45},
        ),
        cron(
            job(reviews.SWEEP_JOB, reviews.sweep).coroutine,
            name=f"cron:{reviews.SWEEP_JOB}",
            second={30},
            run_at_startup=True,
        ),
        cron(
            job(metrics.COLLECT_DUE_JOB, metrics.collect_due).coroutine,
            name=f"cron:{metrics.COLLECT_DUE_JOB}",
            hour={1},
            minute={5},
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
