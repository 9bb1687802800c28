"""Periodic work across agencies that the dispatcher's loop runs every few seconds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from shared.approvals import service as approvals
from shared.db import Database
from shared.db.tenancy import set_tenant
from shared.events import service as events
from shared.publishing.dispatcher import SCAN

OVERDUE_BATCH = 1000

_FINISHED = text(
    """
    UPDATE campaign AS c
    SET status = 'completed', completed_at = :now, updated_at = :now
    WHERE c.status = 'running'
      AND NOT EXISTS (
        SELECT 1 FROM post p
        WHERE p.agency_id = c.agency_id AND p.campaign_id = c.id
          AND p.status NOT IN ('published', 'failed', 'cancelled', 'skipped'))
    RETURNING c.agency_id, c.id, c.brand_id
    """
)


async def complete_finished_campaigns(db: Database, now: datetime) -> int:
    """Running campaigns whose every post has reached an ending become ``completed``
    (``campaign.completed``). The publisher does this for the campaigns it touches; this
    catches the rest (two last batches finishing at once, campaigns ended by skips)."""
    async with db.transaction() as session:
        await session.execute(text("SELECT set_config('app.scan', :s, true)"), {"s": SCAN})
        rows = (await session.execute(_FINISHED, {"now": now})).all()
        for agency_id, campaign_id, brand_id in rows:
            await set_tenant(session, agency_id, None)
            events.emit(
                session,
                agency_id=agency_id,
                type="campaign.completed",
                subject_type="campaign",
                subject_id=campaign_id,
                brand_id=brand_id,
            )
            # Written now, under this agency's tenant: left to the commit, every agency's
            # event would be inserted under the last one's and the row-level security check
            # would refuse the pass (no campaign of any agency would ever complete).
            await session.flush()
        return len(rows)


async def skip_overdue_approvals(db: Database, now: datetime) -> int:
    """Posts still waiting for approval when their time came are skipped (not published
    late)."""
    total = 0
    while True:
        async with db.transaction() as session:
            await session.execute(text("SELECT set_config('app.scan', :s, true)"), {"s": SCAN})
            skipped = await approvals.skip_overdue(session, now, limit=OVERDUE_BATCH)
        total += skipped
        if skipped < OVERDUE_BATCH:
            return total
