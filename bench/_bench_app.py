"""The real API plus one bench-only route, in the same process and behind the same middleware:

``GET /bench/bare-locations?agency_id=…&brand_id=…`` answers what ``GET /v1/locations?brand_id=…``
answers for an agency-wide user (first page, 50 items, sort=created) with nothing between HTTP
and the database: no FastAPI dependencies, no token, no grants, no ORM, no pydantic. It runs the
list's SQL (same WHERE, ORDER BY, LIMIT 51) as role chorus_app under row-level security, with
``set_config('app.agency_id', …, true)`` in a transaction, on an asyncpg pool as large as the
app's (pool size + overflow), and encodes the rows with orjson.

    uvicorn bench._bench_app:create_bench_app --factory
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from services.api.app import create_app
from shared.config import get_settings
from shared.pagination import encode_cursor

LIMIT = 50
LIST_SQL = """
SELECT id, brand_id, external_ref, name, address_line1, address_line2, city, region,
       postal_code, country, time_zone, phone, website, custom_fields, status,
       created_at, updated_at
FROM location
WHERE agency_id = $1 AND brand_id = $2
ORDER BY id
LIMIT $3
"""


async def _init(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
        schema="pg_catalog",
    )  # fmt: skip


async def bare_locations(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.bare_pool
    agency_id = uuid.UUID(request.query_params["agency_id"])
    brand_id = uuid.UUID(request.query_params["brand_id"])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.agency_id', $1, true)", str(agency_id))
        rows = await conn.fetch(LIST_SQL, agency_id, brand_id, LIMIT + 1)
    items: list[dict[str, Any]] = [dict(row) for row in rows[:LIMIT]]
    next_cursor = encode_cursor("created", [str(items[-1]["id"])]) if len(rows) > LIMIT else None
    body = orjson.dumps({"items": items, "next_cursor": next_cursor}, default=str)
    return Response(body, media_type="application/json")


def create_bench_app() -> FastAPI:
    settings = get_settings()
    app = create_app(settings)
    dsn = settings.app_db_url.set(drivername="postgresql").render_as_string(hide_password=False)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=settings.db_pool_size,
                max_size=settings.db_pool_size + settings.db_max_overflow,
                init=_init,
            )
            application.state.bare_pool = pool
            try:
                yield state
            finally:
                await pool.close()

    app.router.lifespan_context = lifespan
    app.add_route("/bench/bare-locations", bare_locations, methods=["GET"])
    return app
