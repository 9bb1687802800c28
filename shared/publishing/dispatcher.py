"""The dispatcher: PostgreSQL is the source of truth, Redis only carries work.

Each pass leases what is due — ``due_at <= now`` among posts that are ``scheduled``,
``queued``, ``publishing`` or ``unconfirmed`` — with ``FOR UPDATE SKIP LOCKED`` (any number of
workers share the work, none waits on another), gives the batch a fresh lease token and a
lease end (``due_at``), and enqueues one publish job per batch of one agency's posts on one
platform:

- ``scheduled`` → ``queued``: its time has come;
- ``queued`` again: a lease ran out while nothing had been sent for it (a lost job, a Redis
  restart, a worker killed while the post waited for its platform's gate): it simply goes
  again;
- ``publishing`` → ``unconfirmed``: its request left and the lease that covered the request's
  whole life (and the time the platform may still apply it) ran out without an outcome (a
  killed worker): the next job asks the platform before anything is sent again;
- ``unconfirmed`` stays so, with a new lease: reconciliation is due (again).

Posts to send are leased per platform, only as many as leave room under
``dispatch_held_per_platform`` posts held by jobs (queued or publishing, across workers): what
cannot be sent soon waits ``scheduled``, untouched. Posts to reconcile need no room.

Nothing relies on a job staying in Redis: a job that never runs leaves a lease that expires,
and the post is found again.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tenancy import set_tenant
from shared.platforms.registry import PLATFORM_NAMES
from shared.posts.transitions import SYSTEM, Moved, record_many

SCAN = "post_dispatch"

_LEASE = text(
    """
    WITH busy AS (
        -- Posts a job holds now, per platform (across workers): waiting or in flight.
        SELECT platform, count(*) AS n
        FROM post
        WHERE status IN ('queued', 'publishing') AND due_at > :now
        GROUP BY platform
    ),
    room AS (
        SELECT pl.platform, LEAST(:limit, GREATEST(0, :per_platform - COALESCE(busy.n, 0))) AS n
        FROM unnest(CAST(:platforms AS text[])) AS pl(platform)
        LEFT JOIN busy ON busy.platform = pl.platform
    ),
    to_send AS (
        -- As many as each platform has room for, soonest first.
        SELECT c.agency_id, c.id, c.status, c.platform
        FROM room CROSS JOIN LATERAL (
            SELECT p.agency_id, p.id, p.status, p.platform
            FROM post p
            WHERE p.platform = room.platform
              AND p.status IN ('scheduled', 'queued')
              AND p.due_at <= :now
              -- Billing (issue #8): a read-only agency's scheduled posts wait, untouched,
              -- until it has paid (posts already handed on finish).
              AND (p.status <> 'scheduled' OR NOT EXISTS (
                    SELECT 1 FROM billing_account b
                    WHERE b.agency_id = p.agency_id AND b.publishing_paused))
            ORDER BY p.due_at
            LIMIT room.n
            FOR UPDATE OF p SKIP LOCKED
        ) AS c
    ),
    to_check AS (
        -- An attempt ended without an answer, or its job went silent: these send nothing,
        -- so they need no room.
        SELECT p.agency_id, p.id, p.status, p.platform
        FROM post p
        WHERE p.status IN ('publishing', 'unconfirmed') AND p.due_at <= :now
        ORDER BY p.due_at
        LIMIT :limit
        FOR UPDATE OF p SKIP LOCKED
    ),
    due AS (
        SELECT * FROM to_send UNION ALL SELECT * FROM to_check
    )
    UPDATE post AS p
    SET status = CASE
            WHEN due.status IN ('scheduled', 'queued') THEN 'queued'
            ELSE 'unconfirmed'
        END,
        lease_token = :token,
        due_at = :lease_end,
        updated_at = :now
    FROM due
    WHERE p.agency_id = due.agency_id AND p.id = due.id
    RETURNING p.agency_id, p.id, due.platform, due.status AS before, p.status AS after
    """
)

_REASONS = {
    ("scheduled", "queued"): "its time has come",
    ("queued", "queued"): "no job took it before its lease ran out; queued again",
    ("publishing", "unconfirmed"): (
        "the job publishing it stopped without an answer; the platform is asked before "
        "anything is sent again"
    ),
    ("unconfirmed", "unconfirmed"): "checking with the platform whether it went out",
}


@dataclass(frozen=True, slots=True)
class Lease:
    token: uuid.UUID
    agency_id: uuid.UUID
    post_ids: tuple[uuid.UUID, ...]


async def lease_due(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int,
    lease_for: timedelta,
    batch_size: int,
    per_platform: int = 1_000_000,
) -> list[Lease]:
    """Lease up to ``limit`` due posts per platform (and as many awaiting a lookup) of every
    agency, to be enqueued once the transaction has committed: batches of one agency and one
    platform each, so a slow platform's batches never hold another platform's posts.

    ``per_platform`` caps the posts held by jobs per platform (waiting for the gate or in
    flight, across workers): the dispatcher hands out only what can be sent soon, and a burst
    larger than that waits as ``scheduled``, untouched, instead of in leases that would have
    to be kept alive or lapse."""
    await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
    token = uuid.uuid4()
    rows = (
        await session.execute(
            _LEASE,
            {
                "now": now,
                "limit": limit,
                "token": token,
                "lease_end": now + lease_for,
                "per_platform": per_platform,
                "platforms": list(PLATFORM_NAMES),
            },
        )
    ).all()
    by_agency: dict[uuid.UUID, list[Moved]] = defaultdict(list)
    by_batch: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = defaultdict(list)
    for agency_id, post_id, platform, before, after in rows:
        reason = _REASONS.get((before, after), "leased")
        by_agency[agency_id].append(Moved(post_id, before, after, reason))
        by_batch[(agency_id, platform)].append(post_id)
    for agency_id, moves in by_agency.items():
        # The history rows are the agency's own: written under its tenant.
        await set_tenant(session, agency_id, None)
        await record_many(session, agency_id, moves, actor=SYSTEM)
    # The scan and tenant settings are local to the transaction; cleared here for whoever
    # uses the session next in it (a failure above ends the transaction anyway).
    await session.execute(text("SELECT set_config('app.scan', '', true)"))
    await set_tenant(session, None, None)
    leases: list[Lease] = []
    for (agency_id, _), ids in by_batch.items():
        for start in range(0, len(ids), batch_size):
            leases.append(Lease(token, agency_id, tuple(ids[start : start + batch_size])))
    return leases
