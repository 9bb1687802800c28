"""Keeps a publish job's hold on the posts it claimed and has not sent yet.

A claimed post may wait a while before its request leaves: behind the platform's gate (a slow
platform, a burst larger than the gate) or for a reconciliation lookup. While it waits it
stays ``queued`` (or ``unconfirmed``) under the job's lease, and the keeper pushes the
lease's end forward every few seconds. If the worker dies the beats stop, the lease runs out,
and the dispatcher hands the post on: nothing was sent, so nothing can be doubled.

A post the job has started to send is no longer kept: its lease was set, when its request
left, to cover that request's whole life (see ``Publisher``), and must not be stretched.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.db import Database
from shared.publishing.dispatcher import Lease

log = structlog.get_logger("chorus.publishing")

_EXTEND = text(
    """
    UPDATE post
    SET due_at = :until
    WHERE agency_id = :agency_id AND id = ANY(:ids) AND lease_token = :token
      AND status IN ('queued', 'unconfirmed')
    RETURNING id
    """
)


async def extend(
    session: AsyncSession, lease: Lease, ids: list[uuid.UUID], until: datetime
) -> set[uuid.UUID]:
    """Moves the lease's end of the posts still held (waiting, not sent) to ``until``."""
    rows = await session.execute(
        _EXTEND,
        {"agency_id": lease.agency_id, "ids": ids, "token": lease.token, "until": until},
    )
    return {row[0] for row in rows}


class LeaseKeeper:
    def __init__(
        self,
        db: Database,
        lease: Lease,
        held: Iterable[uuid.UUID],
        *,
        every: float,
        extend_by: timedelta,
    ) -> None:
        self.db = db
        self.lease = lease
        self.held: set[uuid.UUID] = set(held)
        self.lost: set[uuid.UUID] = set()
        """Posts another dispatch took over (this job's lease lapsed): never to be sent here."""
        self.every = every
        self.extend_by = extend_by

    def let_go(self, ids: Iterable[uuid.UUID]) -> None:
        self.held.difference_update(ids)

    async def beat(self) -> None:
        """Extends the lease of every post still held; notes the ones that are gone."""
        ids = list(self.held)
        if not ids:
            return
        async with self.db.transaction(self.lease.agency_id) as session:
            kept = await extend(session, self.lease, ids, clock.now() + self.extend_by)
        gone = {i for i in ids if i not in kept and i in self.held}
        if gone:
            self.lost |= gone
            self.held -= gone
            log.warning("publish.lease_lost", posts=len(gone))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LeaseKeeper]:
        task = asyncio.create_task(self._forever())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away: the lease may lapse; that is safe
                log.warning("publish.lease_extend_failed", exc_info=True)
