"""Migration 0020 renames stored review sources ``google`` → ``google_business`` (reviews,
review sources, auto-reply rules) and back on downgrade, keeping every other value."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.conftest import _server_url, alembic_config, create_database, drop_database

_SEED = (
    "INSERT INTO review_source (agency_id, id, brand_id, location_id, source, account_id, "
    "external_id) VALUES (:a, :g, :b, :l, 'google', :acc, 'accounts/1/locations/2'), "
    "(:a, :y, :b, :l2, 'yelp', NULL, 'biz')",
    "INSERT INTO review (agency_id, id, brand_id, location_id, source_id, source, external_id, "
    "created_at, updated_at, sentiment_score, sentiment_label) VALUES "
    "(:a, gen_random_uuid(), :b, :l, :g, 'google', 'r1', now(), now(), 0, 'neutral'), "
    "(:a, gen_random_uuid(), :b, :l2, :y, 'yelp', 'r2', now(), now(), 0, 'neutral')",
    "INSERT INTO auto_reply_rule (agency_id, id, brand_id, name, sources, template) VALUES "
    "(:a, gen_random_uuid(), :b, 'both', '{google,facebook}', 'Thanks'), "
    "(:a, gen_random_uuid(), :b, 'all', '{}', 'Thanks')",
)


async def _sources(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        return {
            "review_source": sorted(
                r[0] for r in await conn.execute(text("SELECT source FROM review_source"))
            ),
            "review": sorted(r[0] for r in await conn.execute(text("SELECT source FROM review"))),
            "auto_reply_rule": sorted(
                r[0] for r in await conn.execute(text("SELECT sources FROM auto_reply_rule"))
            ),
        }


async def test_stored_google_sources_are_renamed_and_renamed_back() -> None:
    server = _server_url()
    name = f"chorus_sources_{uuid.uuid4().hex[:8]}"
    url = await create_database(server, name)
    engine = create_async_engine(url)
    try:
        cfg = alembic_config(url)
        await asyncio.to_thread(command.upgrade, cfg, "0019")
        ids = {k: uuid.uuid4() for k in ("a", "b", "l", "l2", "g", "y", "acc")}
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))  # no FKs
            for statement in _SEED:
                await conn.execute(text(statement), ids)
        await asyncio.to_thread(command.upgrade, cfg, "0020")
        assert await _sources(engine) == {
            "review_source": ["google_business", "yelp"],
            "review": ["google_business", "yelp"],
            "auto_reply_rule": [[], ["google_business", "facebook"]],
        }
        await asyncio.to_thread(command.downgrade, cfg, "0019")
        assert await _sources(engine) == {
            "review_source": ["google", "yelp"],
            "review": ["google", "yelp"],
            "auto_reply_rule": [[], ["google", "facebook"]],
        }
    finally:
        await engine.dispose()
        await drop_database(server, name)
