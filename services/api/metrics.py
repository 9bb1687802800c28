"""Prometheus series of the API process, and the worker's job counts read back from Redis."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from redis.asyncio import Redis

from shared.jobs import JOB_COUNTS_KEY, QUEUES, STRIPE_INBOX_KEY

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "chorus_http_requests",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "chorus_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
JOBS = Gauge(
    "chorus_jobs",
    "Jobs finished by the workers, by job name and outcome (since the Redis data began)",
    ["job", "outcome"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "chorus_job_queue_depth",
    "Jobs waiting in each queue (urgent, bulk), deferred retries included",
    ["queue"],
    registry=REGISTRY,
)
STRIPE_INBOX = Gauge(
    "chorus_stripe_events_unprocessed",
    "Stripe webhook events not applied yet, by state (failed: the last attempt failed; the "
    "reason is the inbox row's last_error and the billing.event_failed log line)",
    ["state"],
    registry=REGISTRY,
)
STRIPE_INBOX_AGE = Gauge(
    "chorus_stripe_event_oldest_unprocessed_seconds",
    "How long the oldest unapplied Stripe event has waited (as of the last billing sweep)",
    registry=REGISTRY,
)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method a client sends is counted as ``OTHER``: a label value per invented
method would let anyone grow the series without bound."""

_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
"""The labelled children by (method, route template, status): bounded, since the route is a
template or ``<unmatched>``. ``labels()`` checks and hashes its arguments on every call,
which cost more than the counting itself."""


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if method not in KNOWN_METHODS:
        method = "OTHER"
    key = (method, route, status)
    series = _series.get(key)
    if series is None:
        series = _series[key] = (
            REQUESTS.labels(method, route, str(status)),
            LATENCY.labels(method, route),
        )
    series[0].inc()
    series[1].observe(seconds)


async def render(redis: Redis) -> bytes:
    counts: dict[bytes, bytes] = await redis.hgetall(JOB_COUNTS_KEY)  # type: ignore[misc]
    for field, value in counts.items():
        job, _, outcome = field.decode().rpartition(":")
        JOBS.labels(job, outcome).set(int(value))
    for label, queue in QUEUES.items():
        QUEUE_DEPTH.labels(label).set(await redis.zcard(queue))
    inbox: dict[bytes, bytes] = await redis.hgetall(STRIPE_INBOX_KEY)  # type: ignore[misc]
    if inbox:
        pending, failed = int(inbox.get(b"pending", 0)), int(inbox.get(b"failed", 0))
        STRIPE_INBOX.labels("failed").set(failed)
        STRIPE_INBOX.labels("waiting").set(pending - failed)
        STRIPE_INBOX_AGE.set(float(inbox.get(b"oldest_unprocessed_s", 0)))
    else:  # no billing sweep for minutes: no numbers rather than stale ones
        STRIPE_INBOX.clear()
        STRIPE_INBOX_AGE.set(float("nan"))
    return generate_latest(REGISTRY)
