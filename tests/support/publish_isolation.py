"""Insert posts straight into the database for worker isolation tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def insert_posts(
    engine: AsyncEngine, world: dict[str, Any], location: dict[str, Any], platform: str, n: int
) -> list[str]:
    """``n`` posts due now on ``platform`` at ``location`` of the ``chain`` world."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                """
                INSERT INTO post (agency_id, id, brand_id, location_id, template_id,
                    template_version, platform, text, status, status_reason, scheduled_at,
                    due_at, publish_deadline)
                SELECT l.agency_id, gen_random_uuid(), l.brand_id, l.id, :template, 1,
                    CAST(:platform AS text), CAST(:platform AS text) || ' post ' || g,
                    'scheduled', 'test', :now, :now, :deadline
                FROM location l CROSS JOIN generate_series(1, :n) AS g
                WHERE l.id = :location
                RETURNING id
                """
            ),
            {
                "template": uuid.UUID(world["template_id"]),
                "platform": platform,
                "now": now,
                "deadline": now + timedelta(hours=1),
                "n": n,
                "location": uuid.UUID(location["id"]),
            },
        )
        return [str(r[0]) for r in rows]
