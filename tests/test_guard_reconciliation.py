"""A lookup that fails (shared/publishing/publisher.py, ``Publisher._unknown``), from mutants of
it that the reconciliation tests let live (docs/MUTANTS.md): the post stays unknown and keeps
the platform's own words, asked again no sooner than the platform allows; when Chorus gives up
it still says what the platform said. Nothing is sent again in any of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Database
from shared.publishing.publisher import Publisher
from tests.support.publishing import Shop, counts, cycle, make_due, post, state
from tests.support.social_accounts import connect

LOSE_THE_ANSWER = {"error_rates": {"accept_then_timeout": 1.0}, "hold_s": 5}
READS_FAIL = {"error_rates": {"server_error": 1.0}}
PLATFORMS_WORDS = "Something went wrong. Try again later."  # the sandbox's X, failing


@pytest.fixture
async def unknown(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    admin_engine: AsyncEngine,
    publisher: Publisher,
    shop: Shop,
) -> str:
    """A post X stored while its answer was lost: ``unconfirmed``, one write."""
    await connect(client, shop.owner.headers, shop.location["id"], "x")
    made = await post(client, shop, "x", "Did it go?")
    await faults(sandbox, LOSE_THE_ANSWER)
    await cycle(app_db, publisher)
    assert (await state(admin_engine, made["id"]))["status"] == "unconfirmed"
    return str(made["id"])


async def faults(sandbox: httpx.AsyncClient, config: dict[str, Any]) -> None:
    answer = await sandbox.put("/_sandbox/faults/x", json=config)
    assert answer.status_code == 200, answer.text


async def test_a_failed_lookup_keeps_the_platforms_words(
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    unknown: str,
) -> None:
    await faults(sandbox, READS_FAIL)
    await cycle(app_db, publisher)
    row = await state(admin_engine, unknown)
    assert row["status"] == "unconfirmed"
    assert row["last_error"] == PLATFORMS_WORDS
    assert await counts(sandbox, "x") == {unknown: 1}


async def test_a_rate_limited_lookup_is_asked_again_no_sooner_than_the_platform_allows(
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    unknown: str,
) -> None:
    await faults(sandbox, {"error_rates": {"rate_limited": 1.0}, "retry_after_s": 600})
    asked = datetime.now(UTC)
    await cycle(app_db, publisher)
    row = await state(admin_engine, unknown)
    assert row["status"] == "unconfirmed"
    assert row["due_at"] >= asked + timedelta(seconds=600)
    assert await counts(sandbox, "x") == {unknown: 1}


async def test_giving_up_on_a_lookup_still_says_what_the_platform_said(
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    unknown: str,
) -> None:
    give_up = timedelta(seconds=publisher.settings.reconcile_give_up_seconds)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE post SET publish_deadline = :deadline WHERE id = :id"),
            {"deadline": datetime.now(UTC) - give_up - timedelta(minutes=1), "id": unknown},
        )
    await faults(sandbox, READS_FAIL)
    await make_due(admin_engine, unknown)
    await cycle(app_db, publisher)
    row = await state(admin_engine, unknown)
    assert row["status"] == "failed"
    assert row["last_error"] == PLATFORMS_WORDS
    assert await counts(sandbox, "x") == {unknown: 1}


async def test_a_post_the_lookup_finds_keeps_the_time_it_went_out(
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    app_db: Database,
    publisher: Publisher,
    unknown: str,
) -> None:
    looked = datetime.now(UTC)
    await faults(sandbox, {})
    await make_due(admin_engine, unknown)
    await cycle(app_db, publisher)
    row = await state(admin_engine, unknown)
    assert row["status"] == "published"
    assert row["published_at"] < looked  # when X stored it, not when Chorus found it
    assert await counts(sandbox, "x") == {unknown: 1}
