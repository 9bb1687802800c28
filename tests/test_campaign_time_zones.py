"""A campaign at 09:00 local time lands at each location's own 09:00, DST included.

Every expected instant is worked out by hand from the zones' rules (offsets and transition
dates), not by the code under test:

- Pacific/Auckland: NZDT +13 until the first Sunday of April 03:00 (→ NZST +12), back to NZDT
  on the last Sunday of September 02:00;
- Asia/Kolkata: +05:30 all year;
- Europe/London: GMT +0, BST +1 from the last Sunday of March 01:00 UTC to the last Sunday
  of October 01:00 UTC;
- America/New_York: EST -5, EDT -4 from the second Sunday of March 02:00 to the first
  Sunday of November 02:00;
- Pacific/Honolulu: -10 all year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.worker.context import WorkerContext
from shared.campaigns.schedule import local_instant
from shared.config import Settings
from shared.db import Database
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.campaigns import (
    all_posts,
    campaign_body,
    create_campaign,
    launch_and_fan_out,
    publish_template,
)
from tests.support.social_accounts import connect

ZONES = (
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Europe/London",
    "America/New_York",
    "Pacific/Honolulu",
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NINE_AM_2026 = {
    # 2026-03-08: New York springs forward at 02:00 (09:00 is EDT).
    date(2026, 3, 8): (
        "2026-03-07T20:00",  # Auckland, NZDT +13: the evening before in UTC
        "2026-03-08T03:30",
        "2026-03-08T09:00",  # London still GMT
        "2026-03-08T13:00",  # New York EDT -4 on its first day
        "2026-03-08T19:00",
    ),
    # 2026-03-29: London springs forward at 01:00 UTC (09:00 is BST).
    date(2026, 3, 29): (
        "2026-03-28T20:00",
        "2026-03-29T03:30",
        "2026-03-29T08:00",  # BST +1 on its first day
        "2026-03-29T13:00",
        "2026-03-29T19:00",
    ),
    # 2026-04-05: Auckland falls back at 03:00 NZDT (09:00 is NZST).
    date(2026, 4, 5): (
        "2026-04-04T21:00",  # NZST +12 on its first day
        "2026-04-05T03:30",
        "2026-04-05T08:00",
        "2026-04-05T13:00",
        "2026-04-05T19:00",
    ),
}


@pytest.mark.parametrize("day", list(NINE_AM_2026), ids=str)
def test_nine_am_local_on_dst_transition_days(day: date) -> None:
    expected = [utc(t) for t in NINE_AM_2026[day]]
    assert [local_instant(day, time(9), zone) for zone in ZONES] == expected


@pytest.mark.parametrize(
    ("day", "clock", "zone", "expected"),
    [
        # Spring-forward gaps: the first valid instant is the moment clocks jump.
        (date(2026, 3, 8), time(2, 30), "America/New_York", "2026-03-08T07:00"),  # 03:00 EDT
        (date(2026, 3, 29), time(1, 30), "Europe/London", "2026-03-29T01:00"),  # 02:00 BST
        (date(2026, 9, 27), time(2, 15), "Pacific/Auckland", "2026-09-26T14:00"),  # 03:00 NZDT
        # Fall-back repeats: the first occurrence (still on summer time).
        (date(2026, 11, 1), time(1, 30), "America/New_York", "2026-11-01T05:30"),  # EDT
        (date(2026, 10, 25), time(1, 30), "Europe/London", "2026-10-25T00:30"),  # BST
        (date(2026, 4, 5), time(2, 30), "Pacific/Auckland", "2026-04-04T13:30"),  # NZDT
        # Zones without DST are plain offsets.
        (date(2026, 7, 1), time(0, 0), "Asia/Kolkata", "2026-06-30T18:30"),
        (date(2026, 7, 1), time(23, 59), "Pacific/Honolulu", "2026-07-02T09:59"),
    ],
)
def test_skipped_and_repeated_local_times(day: date, clock: time, zone: str, expected: str) -> None:
    assert local_instant(day, clock, zone) == utc(expected)


@pytest.fixture
async def worker_ctx(app: FastAPI, settings: Settings, app_db: Database) -> dict[str, Any]:
    ctx: dict[str, Any] = {"redis": app.state.redis}
    WorkerContext(settings=settings, db=app_db, redis=app.state.redis).install(ctx)
    return ctx


NINE_AM_2027 = {
    # 2027-03-14: New York's spring-forward day (second Sunday of March 2027).
    "2027-03-14": (
        "2027-03-13T20:00",
        "2027-03-14T03:30",
        "2027-03-14T09:00",
        "2027-03-14T13:00",
        "2027-03-14T19:00",
    ),
    # 2027-03-28: London's (last Sunday of March 2027).
    "2027-03-28": (
        "2027-03-27T20:00",
        "2027-03-28T03:30",
        "2027-03-28T08:00",
        "2027-03-28T13:00",
        "2027-03-28T19:00",
    ),
    # 2027-04-04: Auckland's fall-back (first Sunday of April 2027).
    "2027-04-04": (
        "2027-04-03T21:00",
        "2027-04-04T03:30",
        "2027-04-04T08:00",
        "2027-04-04T13:00",
        "2027-04-04T19:00",
    ),
}


async def test_one_campaign_reaches_every_location_at_its_own_nine_am(
    client: httpx.AsyncClient, worker_ctx: dict[str, Any], sandbox: httpx.AsyncClient
) -> None:
    owner: Tenant = await sign_up(client)
    brand = await create_brand(client, owner)
    zone_of: dict[str, str] = {}
    for zone in ZONES:
        location = await create_location(
            client, owner, brand["id"], country="US", time_zone=zone, city=zone.split("/")[1]
        )
        zone_of[location["id"]] = zone
        await connect(client, owner.headers, location["id"], "facebook")
    template_id = await publish_template(client, owner, brand["id"], body="Hi {{ location.city }}")
    for day, instants in NINE_AM_2027.items():
        campaign = await create_campaign(
            client,
            owner.headers,
            campaign_body(
                brand["id"],
                template_id,
                name=f"Morning {day}",
                channels=["facebook"],
                variables={},
                schedule={"kind": "local", "date": day, "time": "09:00"},
            ),
        )
        await launch_and_fan_out(client, owner.headers, campaign, worker_ctx, owner.agency_id)
        posts = await all_posts(client, owner.headers, campaign["id"])
        got = {zone_of[p["location_id"]]: datetime.fromisoformat(p["scheduled_at"]) for p in posts}
        assert got == {zone: utc(at) for zone, at in zip(ZONES, instants, strict=True)}, day
    # Rescheduling moves each post to the new local time in its own zone.
    moved = await client.post(
        f"/v1/campaigns/{campaign['id']}/reschedule",
        json={"schedule": {"kind": "local", "date": "2027-11-07", "time": "01:30"}},
        headers=owner.headers,
    )
    assert moved.status_code == 200, moved.text
    posts = await all_posts(client, owner.headers, campaign["id"])
    got = {zone_of[p["location_id"]]: datetime.fromisoformat(p["scheduled_at"]) for p in posts}
    assert got == {
        "Pacific/Auckland": utc("2027-11-06T12:30"),  # NZDT +13
        "Asia/Kolkata": utc("2027-11-06T20:00"),
        "Europe/London": utc("2027-11-07T01:30"),  # GMT since 2027-10-31
        "America/New_York": utc("2027-11-07T05:30"),  # repeated hour: first (EDT) occurrence
        "Pacific/Honolulu": utc("2027-11-07T11:30"),
    }
