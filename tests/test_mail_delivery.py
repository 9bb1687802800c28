from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from tests.factories import create_brand, sign_up
from tests.support.smtp_server import run_worker


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

    assert await run_worker(app, settings) == 1
    async with admin_engine.connect() as conn:
        rows = (await conn.execute(text("SELECT to_address, sent_at FROM outbound_email"))).all()
    assert [(r[0], r[1] is not None) for r in rows] == [("new@agency.example", True)]
