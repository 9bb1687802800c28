from __future__ import annotations

import httpx
from arq.worker import Worker
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker import settings as worker_settings
from shared.config import Settings
from shared.jobs import QUEUE_NAME
from tests.factories import create_brand, sign_up


async def test_invitation_mail_is_delivered_after_commit_by_the_worker(
    client: httpx.AsyncClient, app: FastAPI, admin_engine: AsyncEngine, settings: Settings
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    # A rejected invitation (bad scope) queues nothing.
    bad = await client.post(
        "/v1/invitations",
        json={"email": "nope@agency.example", "role": "brand_viewer"},
        headers=owner.headers,
    )
    assert bad.status_code == 422
    ok = await client.post(
        "/v1/invitations",
        json={"email": "new@agency.example", "role": "brand_viewer", "brand_id": brand["id"]},
        headers=owner.headers,
    )
    assert ok.status_code == 201

    async def startup(ctx: dict[str, object]) -> None:
        await worker_settings.startup(ctx, settings)

    worker = Worker(
        functions=worker_settings.build_functions(),
        redis_pool=app.state.redis,
        queue_name=QUEUE_NAME,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        # Not worker.close(): that would also close the app's Redis pool we lent it.
        await worker_settings.shutdown(worker.ctx)
    assert worker.jobs_complete == 1
    async with admin_engine.connect() as conn:
        rows = (await conn.execute(text("SELECT to_address, sent_at FROM outbound_email"))).all()
    assert [(r[0], r[1] is not None) for r in rows] == [("new@agency.example", True)]
