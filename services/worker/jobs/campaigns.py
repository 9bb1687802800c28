"""Campaign jobs: the fan-out of a launched campaign into its posts."""

from __future__ import annotations

import uuid
from typing import Any

from services.worker.context import WorkerContext
from shared.campaigns import fanout

FAN_OUT_JOB = fanout.FAN_OUT_JOB


async def fan_out(ctx: dict[str, Any], agency_id: str, campaign_id: str) -> dict[str, Any]:
    """``campaign.fan_out``: idempotent; a campaign that is not launching is a no-op."""
    wctx = WorkerContext.of(ctx)
    result = await fanout.run(wctx.db, uuid.UUID(agency_id), uuid.UUID(campaign_id))
    return {"status": result.status, "written": result.written, "locations": result.locations}
