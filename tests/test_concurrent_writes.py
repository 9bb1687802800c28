"""Concurrent bulk writers against real PostgreSQL: overlapping work in opposite orders never
deadlocks into a 500, and what they leave behind is right.

A deadlock needs the two writers to overlap at the right moment. Rather than hoping for it,
the tests make it happen: a third connection holds a lock on a row in the middle of both
writers' rows, waits until both are stopped behind it (each having locked its half of the
rows in its own order), and lets go. Writers that lock in opposite orders then deadlock every
time; writers that lock in one order simply wait for each other.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.concurrency import install_concurrency_handlers
from services.api.problems import install_problem_handlers
from shared.campaigns import fanout
from shared.db import Database, hooks, retry
from shared.locations import repository as location_repository
from shared.metrics import service as metrics_service
from shared.platforms.types import DailyMetrics
from shared.social_accounts.models import SocialAccount
from tests.factories import Tenant, create_brand, create_group, create_location, sign_up
from tests.support.campaigns import campaign_body, create_campaign, publish_template
from tests.support.social_accounts import connect

T = TypeVar("T")

HEADER = "external_ref,name,city,country,time_zone,groups"
ROWS = 100
MIDDLE = ROWS // 2


def _csv(refs: list[int], label: str, groups: str = "") -> str:
    lines = [HEADER] + [
        f"store-{n:05d},{label} {n},Springfield,US,America/Chicago,{groups}" for n in refs
    ]
    return "\r\n".join(lines) + "\r\n"


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _waiting_for_locks(engine: AsyncEngine) -> int:
    rows = await _rows(
        engine,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    return int(rows[0][0])


async def _behind(
    engine: AsyncEngine, hold: str, params: dict[str, Any], writers: Sequence[Awaitable[T]]
) -> list[T]:
    """Runs ``writers`` at once while a third connection holds the lock ``hold`` takes; lets
    go once both are waiting for a lock (each stopped behind it, or behind the other)."""
    async with engine.connect() as blocker:
        transaction = await blocker.begin()
        await blocker.execute(text(hold), params)
        running = asyncio.gather(*writers)
        await _until_waiting(engine, len(writers))
        await transaction.rollback()
        return list(await running)


async def _until_waiting(engine: AsyncEngine, count: int) -> None:
    deadline = time.monotonic() + 20
    while await _waiting_for_locks(engine) < count:
        assert time.monotonic() < deadline, "the writers never reached the held row"
        await asyncio.sleep(0.02)


async def _import(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, body: str
) -> httpx.Response:
    return await client.post(
        f"/v1/brands/{brand_id}/locations/import",
        content=body.encode(),
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )


# Import ----------------------------------------------------------------------------------------


async def test_overlapping_imports_in_opposite_orders_both_succeed(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    refs = list(range(ROWS))
    first = await _import(client, owner, brand["id"], _csv(refs, "Seed"))
    assert first.status_code == 200, first.text

    forward, backward = await _behind(
        admin_engine,
        "SELECT 1 FROM location WHERE external_ref = :ref FOR UPDATE",
        {"ref": f"store-{MIDDLE:05d}"},
        [
            _import(client, owner, brand["id"], _csv(refs, "Up", "North;South")),
            _import(client, owner, brand["id"], _csv(refs[::-1], "Down", "South;North")),
        ],
    )
    # Before locking in one order: one of them was a deadlock's victim, a 500.
    assert forward.status_code == 200, forward.text
    assert backward.status_code == 200, backward.text
    # One after the other, each file whole: both updated every row, and every row carries
    # the name the later one gave it.
    assert forward.json()["updated"] == backward.json()["updated"] == ROWS
    names = await _rows(
        admin_engine, "SELECT name FROM location WHERE agency_id = :a", a=owner.agency_id
    )
    assert len(names) == ROWS
    assert {name.rsplit(" ", 1)[0] for (name,) in names} in ({"Up"}, {"Down"})
    memberships = await _rows(
        admin_engine,
        "SELECT g.name, count(*) FROM location_group g JOIN location_group_member m "
        "ON m.agency_id = g.agency_id AND m.group_id = g.id WHERE g.agency_id = :a "
        "GROUP BY g.name ORDER BY g.name",
        a=owner.agency_id,
    )
    assert [tuple(r) for r in memberships] == [("North", ROWS), ("South", ROWS)]


# Group membership ------------------------------------------------------------------------------


async def test_overlapping_membership_changes_in_opposite_orders_all_succeed(
    client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    group = await create_group(client, owner, brand["id"])
    seeded = await _import(client, owner, brand["id"], _csv(list(range(ROWS)), "Store"))
    assert seeded.status_code == 200, seeded.text
    rows = await _rows(
        admin_engine, "SELECT id FROM location WHERE agency_id = :a", a=owner.agency_id
    )
    ids = sorted(str(r[0]) for r in rows)
    members = f"/v1/location-groups/{group['id']}/members"

    async def change(path: str, location_ids: list[str]) -> httpx.Response:
        return await client.post(path, json={"location_ids": location_ids}, headers=owner.headers)

    async def current() -> set[str]:
        found = await _rows(
            admin_engine,
            "SELECT location_id FROM location_group_member WHERE group_id = :g",
            g=group["id"],
        )
        return {str(r[0]) for r in found}

    # The held row: a membership in the middle, being added by a third transaction.
    added = await _behind(
        admin_engine,
        "INSERT INTO location_group_member (agency_id, group_id, location_id) VALUES (:a, :g, :l)",
        {"a": owner.agency_id, "g": group["id"], "l": ids[MIDDLE]},
        [change(members, ids), change(members, ids[::-1])],
    )
    assert [r.status_code for r in added] == [200, 200], [r.text for r in added]
    assert sorted(r.json()["changed"] for r in added) == [0, ROWS]  # each added once
    assert await current() == set(ids)

    removed = await _behind(
        admin_engine,
        "SELECT 1 FROM location_group_member WHERE group_id = :g AND location_id = :l FOR UPDATE",
        {"g": group["id"], "l": ids[MIDDLE]},
        [change(f"{members}/remove", ids), change(f"{members}/remove", ids[::-1])],
    )
    assert [r.status_code for r in removed] == [200, 200], [r.text for r in removed]
    assert sorted(r.json()["changed"] for r in removed) == [0, ROWS]
    assert await current() == set()


# The retry helper ------------------------------------------------------------------------------


class _Deadlocks:
    """Makes a real deadlock of two updates in a session's transaction: another connection
    takes the second row, the session takes the first and waits for the second (first, so
    that its deadlock check runs first and it is the victim), and the other connection then
    waits for the first row."""

    def __init__(self, engine: AsyncEngine, first: str, second: str) -> None:
        self.engine = engine
        self.first = first
        self.second = second
        self.others: list[asyncio.Task[None]] = []

    async def _other(self, holds_second: asyncio.Event) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_TOUCH, {"id": self.second})
            holds_second.set()
            await asyncio.sleep(0.3)  # the session is waiting for the second row by now
            await conn.execute(_TOUCH, {"id": self.first})

    async def run(self, session: AsyncSession) -> None:
        holds_second = asyncio.Event()
        self.others.append(asyncio.create_task(self._other(holds_second)))
        await session.execute(_TOUCH, {"id": self.first})
        await holds_second.wait()
        await session.execute(_TOUCH, {"id": self.second})

    async def finish(self) -> None:
        await asyncio.gather(*self.others)


_TOUCH = text("UPDATE location SET updated_at = clock_timestamp() WHERE id = :id")
_RENAME = text("UPDATE location SET name = :name WHERE id = :id")


async def _locations(client: httpx.AsyncClient, count: int = 2) -> tuple[Tenant, list[str]]:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    created = [await create_location(client, owner, brand["id"]) for _ in range(count)]
    return owner, [str(location["id"]) for location in created]


async def _name(engine: AsyncEngine, location_id: str) -> str:
    rows = await _rows(engine, "SELECT name FROM location WHERE id = :id", id=location_id)
    return str(rows[0][0])


async def test_the_retry_reruns_a_transaction_that_lost_a_real_deadlock(
    client: httpx.AsyncClient, app_db: Database, admin_engine: AsyncEngine
) -> None:
    owner, (first, second) = await _locations(client)
    deadlocks = _Deadlocks(admin_engine, first, second)
    tries: list[int] = []
    sent: list[int] = []

    async def work(session: AsyncSession) -> str:
        tries.append(len(tries) + 1)
        attempt = len(tries)

        async def send() -> None:
            sent.append(attempt)

        hooks.after_commit(session, send)
        await session.execute(_RENAME, {"id": first, "name": f"Try {attempt}"})
        if attempt == 1:
            await deadlocks.run(session)
        return "done"

    result = await retry.run_transaction(app_db, work, agency_id=owner.agency_id)
    await deadlocks.finish()
    assert result == "done"
    assert tries == [1, 2]
    assert sent == [2]  # only the try that committed sent anything
    assert await _name(admin_engine, first) == "Try 2"


async def test_the_retry_gives_up_after_its_tries_with_a_409(
    client: httpx.AsyncClient, app_db: Database, admin_engine: AsyncEngine
) -> None:
    owner, (first, second) = await _locations(client)
    before = await _name(admin_engine, first)
    deadlocks = _Deadlocks(admin_engine, first, second)
    tries: list[int] = []

    async def work(session: AsyncSession) -> None:
        tries.append(len(tries) + 1)
        await session.execute(_RENAME, {"id": first, "name": "Never"})
        await deadlocks.run(session)

    with pytest.raises(retry.ConcurrentUpdate) as raised:
        await retry.run_transaction(
            app_db, work, agency_id=owner.agency_id, attempts=2, what="the test's change"
        )
    await deadlocks.finish()
    assert tries == [1, 2]
    error = raised.value
    assert (error.status_code, error.error_code) == (409, "concurrent_update")
    assert error.headers == {"Retry-After": "1"}
    assert error.extra == {"reason": "deadlock_detected", "attempts": 2}
    assert error.message.startswith("the test's change conflicted with other changes")
    assert await _name(admin_engine, first) == before  # nothing of it was written


async def test_the_savepoint_retry_reruns_only_the_work_inside_the_requests_transaction(
    client: httpx.AsyncClient, app_db: Database, admin_engine: AsyncEngine
) -> None:
    owner, (first, second, third) = await _locations(client, 3)
    deadlocks = _Deadlocks(admin_engine, first, second)
    tries: list[int] = []
    sent: list[str] = []

    async def send_before() -> None:
        sent.append("before")

    async def work(session: AsyncSession) -> None:
        tries.append(len(tries) + 1)
        attempt = len(tries)

        async def send() -> None:
            sent.append(f"try {attempt}")

        hooks.after_commit(session, send)
        await session.execute(_RENAME, {"id": first, "name": f"Try {attempt}"})
        if attempt < 3:
            await deadlocks.run(session)

    async with app_db.transaction(owner.agency_id) as session:
        # What the request did before (the principal, say) stays, and is not done again.
        hooks.after_commit(session, send_before)
        await session.execute(_RENAME, {"id": third, "name": "Before"})
        await retry.in_savepoint(session, lambda: work(session))
    await deadlocks.finish()
    assert tries == [1, 2, 3]
    assert sent == ["before", "try 3"]
    assert await _name(admin_engine, first) == "Try 3"
    assert await _name(admin_engine, third) == "Before"


async def test_a_deadlock_that_reaches_the_edge_unretried_is_a_409_not_a_500(
    client: httpx.AsyncClient, app_db: Database, admin_engine: AsyncEngine
) -> None:
    owner, (first, second) = await _locations(client)
    deadlocks = _Deadlocks(admin_engine, first, second)
    app = FastAPI()
    install_problem_handlers(app)
    install_concurrency_handlers(app)

    @app.post("/deadlock")
    async def deadlock() -> None:
        async with app_db.transaction(owner.agency_id) as session:
            await deadlocks.run(session)

    @app.post("/broken")
    async def broken() -> None:
        async with app_db.transaction(owner.agency_id) as session:
            await session.execute(text("SELECT no_such_column FROM location"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as edge:
        answer = await edge.post("/deadlock")
        other = await edge.post("/broken")
    await deadlocks.finish()
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "1"
    body = answer.json()
    assert (body["code"], body["reason"]) == ("concurrent_update", "deadlock_detected")
    assert "send it again" in body["detail"]
    # Any other database error is left to the handlers that were there: a bug stays a 500.
    assert other.status_code == 500
    assert other.json()["code"] == "internal_error"


# Fan-out ---------------------------------------------------------------------------------------


async def test_concurrent_fan_outs_over_the_same_locations_write_each_post_once(
    client: httpx.AsyncClient, app_db: Database, admin_engine: AsyncEngine
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    seeded = await _import(client, owner, brand["id"], _csv(list(range(ROWS)), "Store"))
    assert seeded.status_code == 200, seeded.text
    template_id = await publish_template(client, owner, brand["id"])
    campaigns = [
        await create_campaign(
            client,
            owner.headers,
            campaign_body(brand["id"], template_id, channels=channels),
        )
        for channels in (["x", "facebook", "instagram"], ["instagram", "facebook", "x"])
    ]
    for campaign in campaigns:
        launched = await client.post(
            f"/v1/campaigns/{campaign['id']}/launch", headers=owner.headers
        )
        assert launched.status_code == 202, launched.text

    # Two campaigns over the same locations, channels in opposite orders, and the first one
    # run twice at once (a job delivered twice): small batches, written two at a time each.
    first, second = (uuid.UUID(c["id"]) for c in campaigns)
    results = await asyncio.gather(
        *(
            fanout.run(app_db, owner.agency_id, campaign_id, batch_size=7)
            for campaign_id in (first, second, first)
        )
    )
    assert {r.status for r in results} <= {"completed", "stopped", "launching"}, results
    assert sum(r.written for r in results) == 2 * ROWS * 3  # each post written once

    counts = await _rows(
        admin_engine,
        "SELECT p.campaign_id, count(DISTINCT (p.location_id, p.platform)), count(*), "
        "(SELECT count(*) FROM post_status_change s WHERE s.post_id = ANY(array_agg(p.id))) "
        "FROM post p WHERE p.agency_id = :a GROUP BY p.campaign_id",
        a=owner.agency_id,
    )
    assert sorted((str(c), d, n, h) for c, d, n, h in counts) == sorted(
        (str(c), ROWS * 3, ROWS * 3, ROWS * 3) for c in (first, second)
    )  # one post per location and channel, and one history row each
    for campaign in campaigns:
        detail = await client.get(f"/v1/campaigns/{campaign['id']}", headers=owner.headers)
        assert detail.json()["status"] == "completed"  # nothing to publish: no accounts
        assert detail.json()["progress"] == {"done": ROWS, "total": ROWS}


# Rollups ---------------------------------------------------------------------------------------

DAY = datetime.now(UTC).date() - timedelta(days=5)
EARLIER, LATER = DAY - timedelta(days=1), DAY


async def _rollup_world(
    client: httpx.AsyncClient, app_db: Database
) -> tuple[Tenant, str, dict[str, str], dict[str, SocialAccount]]:
    """A brand with a group; ``joining`` (not in the group yet) and ``member`` (in it), each
    with a Facebook account, so that both count in the same group rollup rows."""
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    group = await create_group(client, owner, brand["id"])
    locations = {
        name: str((await create_location(client, owner, brand["id"]))["id"])
        for name in ("joining", "member")
    }
    added = await client.post(
        f"/v1/location-groups/{group['id']}/members",
        json={"location_ids": [locations["member"]]},
        headers=owner.headers,
    )
    assert added.status_code == 200, added.text
    accounts = {}
    for name, location_id in locations.items():
        connected = await connect(client, owner.headers, location_id, "facebook")
        async with app_db.transaction(owner.agency_id) as session:
            accounts[name] = (
                await session.execute(
                    select(SocialAccount).where(SocialAccount.id == uuid.UUID(connected["id"]))
                )
            ).scalar_one()
    return owner, str(group["id"]), locations, accounts


async def store_metrics(app_db: Database, account: SocialAccount, days: dict[date, int]) -> None:
    async with app_db.transaction(account.agency_id) as session:
        await metrics_service.upsert_days(
            session, account, [DailyMetrics(day=d, impressions=n) for d, n in days.items()]
        )


async def _add_member(app_db: Database, owner: Tenant, group_id: str, location_id: str) -> None:
    async with app_db.transaction(owner.agency_id) as session:
        await location_repository.add_members(
            session, owner.agency_id, uuid.UUID(group_id), [uuid.UUID(location_id)]
        )


async def _rollups_match_the_daily_rows(engine: AsyncEngine, owner: Tenant) -> None:
    """Every brand and group rollup row is what the daily rows and memberships add up to."""
    expected = await _rows(
        engine,
        "SELECT 'brand', d.brand_id, d.metric_on, d.platform, count(*), "
        "sum(coalesce(d.impressions, 0)) FROM daily_metric d WHERE d.agency_id = :a "
        "GROUP BY 1, 2, 3, 4 UNION ALL "
        "SELECT 'group', m.group_id, d.metric_on, d.platform, count(*), "
        "sum(coalesce(d.impressions, 0)) FROM daily_metric d JOIN location_group_member m "
        "ON m.agency_id = d.agency_id AND m.location_id = d.location_id WHERE d.agency_id = :a "
        "GROUP BY 1, 2, 3, 4",
        a=owner.agency_id,
    )
    stored = await _rows(
        engine,
        "SELECT scope, scope_id, metric_on, platform, accounts, impressions FROM metric_rollup "
        "WHERE agency_id = :a",
        a=owner.agency_id,
    )
    assert sorted(map(tuple, stored)) == sorted(map(tuple, expected))


async def test_a_location_joining_a_group_while_its_days_are_written_counts_them_once(
    client: httpx.AsyncClient,
    app_db: Database,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    owner, group_id, locations, accounts = await _rollup_world(client, app_db)
    await store_metrics(app_db, accounts["member"], {LATER: 5})
    await store_metrics(app_db, accounts["joining"], {EARLIER: 10})

    # The membership is added (and the group's rollup given the location's stored days) in
    # a transaction still open while new days of the location are written and committed.
    async with app_db.transaction(owner.agency_id) as session:
        await location_repository.add_members(
            session, owner.agency_id, uuid.UUID(group_id), [uuid.UUID(locations["joining"])]
        )
        writing = asyncio.create_task(store_metrics(app_db, accounts["joining"], {LATER: 100}))
        deadline = time.monotonic() + 10
        while not writing.done() and await _waiting_for_locks(admin_engine) < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    await writing
    # Before the rollup triggers took a lock per brand, neither side saw the other's change
    # and the group's rollup never counted the new day.
    await _rollups_match_the_daily_rows(admin_engine, owner)


async def test_rollup_writers_touching_the_same_rows_in_different_orders_do_not_deadlock(
    client: httpx.AsyncClient,
    app_db: Database,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
) -> None:
    owner, group_id, locations, accounts = await _rollup_world(client, app_db)
    await store_metrics(app_db, accounts["joining"], {EARLIER: 10, LATER: 20})
    await store_metrics(app_db, accounts["member"], {LATER: 5})

    # One collection revises the later day and adds the earlier one: its statement's update
    # part updates the later day's group rollup, then its insert part the earlier day's. A
    # location joining the group adds both days, earlier first. With the later day's group
    # row held until both wait, that was a deadlock, each holding the day the other needs.
    async with admin_engine.connect() as blocker:
        transaction = await blocker.begin()
        await blocker.execute(
            text(
                "SELECT 1 FROM metric_rollup WHERE scope = 'group' AND scope_id = :g "
                "AND metric_on = :d FOR UPDATE"
            ),
            {"g": group_id, "d": LATER},
        )
        collecting = asyncio.create_task(
            store_metrics(app_db, accounts["member"], {EARLIER: 1, LATER: 6})
        )
        await _until_waiting(admin_engine, 1)
        joining = asyncio.create_task(_add_member(app_db, owner, group_id, locations["joining"]))
        await _until_waiting(admin_engine, 2)
        await transaction.rollback()
        await asyncio.gather(collecting, joining)
    await _rollups_match_the_daily_rows(admin_engine, owner)
