"""Publishing a leased batch of posts (see ``shared.publishing.publisher``): the job claims the
batch and hands it to the process's publisher, which carries it on in the background; the
job's slot is free at once, whatever the platform's pace."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from services.worker.context import WorkerContext
from shared.publishing.dispatcher import Lease


async def publish_batch(
    ctx: dict[str, Any], token: str, agency_id: str, post_ids: list[str]
) -> dict[str, Any]:
    publisher = WorkerContext.of(ctx).publisher
    assert publisher is not None, "the worker's startup creates the publisher"
    lease = Lease(uuid.UUID(token), uuid.UUID(agency_id), tuple(uuid.UUID(i) for i in post_ids))
    result = await publisher.submit(lease)
    return {k: (len(v) if isinstance(v, list) else v) for k, v in asdict(result).items()}
