"""arq workers, one process per queue (``shared.jobs`` routes each job by name):

- ``arq services.worker.settings.WorkerSettings``: the urgent queue (fan-out, publishing,
  replies, mail, token refresh, Stripe webhooks) plus the dispatcher, relay and sweep loops.
- ``arq services.worker.settings.BulkWorkerSettings``: the bulk queue (metric and review
  collection, backfills, rollups, exports), with a capacity of its own.

Separate processes rather than two arq workers in one: a bulk job that hogs its event loop
(parsing a big export, a slow platform's thousand open calls) cannot delay a publish, each
side has its own database pool and outbound connections, and each scales on its own. Both
register every job, so a job routed to either queue runs.

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

from services.worker import stopping
from services.worker.context import WorkerContext
from services.worker.jobs import (
    billing,
    campaigns,
    mail,
    media,
    media_uploads,
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
from shared.jobs import BULK_QUEUE, URGENT_QUEUE
from shared.logging import configure_logging
from shared.mail import service as mail_service
from shared.metrics import service as metrics_service
from shared.platforms import registry as platform_registry
from shared.publishing.limiter import AccountLimiter
from shared.publishing.publisher import Publisher
from shared.publishing.sweeps import complete_finished_campaigns, skip_overdue_approvals

log = structlog.get_logger("chorus.worker")


def build_functions() -> list[Any]:
    """Every job, for both queues' workers. Transient failures retry with back-off (see
    ``registry``); the publish batch does not: its lease brings its posts back."""
    return [
        job("system.heartbeat", system.heartbeat),
        job(mail_service.DELIVER_JOB, mail.deliver),
        job(social_accounts.REFRESH_DUE_JOB, social_accounts.refresh_due),
        job(social_accounts.REFRESH_JOB, social_accounts.refresh_one),
        job(PUBLISH_JOB, publishing.publish_batch, retry_transient=False),
        job(campaigns.FAN_OUT_JOB, campaigns.fan_out),
        job(metrics.COLLECT_DUE_JOB, metrics.collect_due),
        job(metrics.COLLECT_JOB, metrics.collect_account, backoff=metrics.BACKOFF_S),
        job(metrics.BACKFILL_JOB, metrics.backfill_account, backoff=metrics.BACKOFF_S),
        job(metrics.POSTS_JOB, metrics.collect_posts),
        job(reviews.SWEEP_JOB, reviews.sweep),
        job(billing.PROCESS_EVENT_JOB, billing.process_stripe_event, max_tries=billing.MAX_TRIES),
        job(billing.SYNC_QUANTITY_JOB, billing.sync_quantity),
        job(billing.SWEEP_JOB, billing.sweep),
        job(reviews.COLLECT_JOB, reviews.collect),
        job(reviews.SEND_REPLY_JOB, reviews.send_reply),
        job(media.PROCESS_JOB, media.process),
    ]


def scheduled(name: str, coroutine: Any, **when: Any) -> Any:
    """A cron entry: counted like every job, never retried (its next run is the retry)."""
    return cron(job(name, coroutine, retry_transient=False).coroutine, name=f"cron:{name}", **when)


def build_relay(settings: Settings, redis: ArqRedis) -> Relay:
    """The outbox's consumers. (Webhook delivery to agencies will subscribe here.)"""
    relay = Relay()

    async def mail_approvers(
        session: AsyncSession, agency_id: uuid.UUID, events: list[OutboxEvent]
    ) -> None:
        post_ids = [e.subject_id for e in events if e.subject_id is not None]
        await approvals.notify_pending(session, settings, agency_id, post_ids, redis=redis)

    async def follow_up_metrics(
        session: AsyncSession, agency_id: uuid.UUID, events: list[OutboxEvent]
    ) -> None:
        post_ids = [e.subject_id for e in events if e.subject_id is not None]
        await metrics_service.follow_up_published(session, redis, agency_id, post_ids)

    relay.on("post.needs_approval", mail_approvers)
    relay.on("post.published", follow_up_metrics)
    return relay


async def startup(
    ctx: dict[str, Any],
    settings: Settings | None = None,
    *,
    start_loops: bool = True,
    queue: str = URGENT_QUEUE,
) -> None:
    """``start_loops=False`` for the bulk worker and for tests that drive the dispatcher
    themselves."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    db = Database(
        settings.app_db_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout=settings.worker_db_statement_timeout_seconds,
    )
    wctx = WorkerContext(settings=settings, db=db, redis=ctx["redis"])
    wctx.publisher = Publisher(db, AccountLimiter(ctx["redis"]), settings)
    if start_loops:
        wctx.loops = Loops(
            settings,
            db,
            ctx["redis"],
            build_relay(settings, ctx["redis"]),
            [
                complete_finished_campaigns,
                skip_overdue_approvals,
                mail_service.sweeper(ctx["redis"]),
            ],
        )
        wctx.loops.start()
        stopping.on_stop_signal(wctx.stop_soon)
    wctx.install(ctx)
    log.info("worker.started", queue=queue, loops=start_loops)


async def bulk_startup(ctx: dict[str, Any], settings: Settings | None = None) -> None:
    """The bulk worker: jobs only; the loops run in the urgent workers."""
    await startup(ctx, settings, start_loops=False, queue=BULK_QUEUE)


async def shutdown(ctx: dict[str, Any]) -> None:
    wctx = ctx.get("chorus")
    if wctx is not None:
        loops = WorkerContext.of(ctx).loops
        if loops is not None:
            await loops.stop()
        publisher = WorkerContext.of(ctx).publisher
        if publisher is not None:  # hands back what waits; requests in flight end in time
            publisher.stop()
            await publisher.drain()
        await WorkerContext.of(ctx).db.dispose()
    await outbound_http.close()
    await platform_registry.close()
    log.info("worker.stopped")


class WorkerSettings:
    """The urgent queue: what a user waits for or a deadline depends on."""

    functions = build_functions()
    cron_jobs = [
        scheduled("system.heartbeat", system.heartbeat, second={0}, run_at_startup=True),
        scheduled(
            social_accounts.REFRESH_DUE_JOB,
            social_accounts.refresh_due,
            second={15},
            run_at_startup=True,
        ),
        scheduled(billing.SWEEP_JOB, billing.sweep, second={0, 15, 30, 45}),
        scheduled(reviews.SWEEP_JOB, reviews.sweep, second={30}, run_at_startup=True),
        scheduled(media_uploads.EXPIRE_JOB, media_uploads.expire_uploads, minute={7, 22, 37, 52}),
        scheduled(media.SWEEP_JOB, media.sweep, minute=set(range(2, 60, 5))),
        scheduled(media.PURGE_JOB, media.purge, minute={47}),
    ]
    on_startup = startup
    on_shutdown = shutdown
    queue_name = URGENT_QUEUE
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    # On SIGTERM the publisher hands back what waits at once (services.worker.stopping) and
    # shutdown() waits for the requests in flight, each ending within its attempt timeout;
    # other urgent jobs get that long too. The deployment's grace period (120 s in
    # docker-compose.yml) must exceed it.
    job_completion_wait = int(get_settings().publish_attempt_timeout_seconds) + 10
    max_jobs = get_settings().worker_max_jobs
    job_timeout = 300
    keep_result = 0  # a kept result blocks its job id from being enqueued again (registry)
    health_check_interval = 30


class BulkWorkerSettings:
    """The bulk queue: collection, backfills, rollups, exports. Its own capacity, so a
    backlog here (600 backfills against a slow platform) never delays the urgent queue."""

    functions = build_functions()
    cron_jobs = [
        # Named apart from the urgent worker's crons: a cron's job id is its name and time.
        scheduled("system.heartbeat:bulk", system.heartbeat, second={0}, run_at_startup=True),
        scheduled(metrics.COLLECT_DUE_JOB, metrics.collect_due, hour={1}, minute={5}),
    ]
    on_startup = bulk_startup
    on_shutdown = shutdown
    queue_name = BULK_QUEUE
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    # Bulk jobs still running after this are cancelled and run again by another worker (arq
    # re-queues a job cancelled at shutdown; each is idempotent). Grace period: 45 s.
    job_completion_wait = 30
    max_jobs = get_settings().bulk_worker_max_jobs
    job_timeout = 600
    keep_result = 0
    health_check_interval = 30
