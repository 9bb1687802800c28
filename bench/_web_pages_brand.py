"""The brand pages of ``bench/web_pages.py`` (issue #16): their set-up straight into the tables
and the pages measured against the API calls that answer the same rows.

Set-up (COPY, as the rest of the benchmark's, after the part-1 seed): a connected account per
location and channel (Facebook, Instagram, X; one in fifty needs reconnecting), ten location
groups of 1,000 locations, a running campaign of 30,000 posts (every location × 3 channels,
timed over the current month: published, failed or skipped before now, scheduled or waiting
for the location's confirmation after) and ``metric_days`` days of daily numbers per account
ending yesterday, loaded a day at a time so that the database's triggers keep the brand's and
the groups' rollups as the collector's rows would.

Each page against the API calls a client makes for the same data (one sample: the calls one
after another), as the issue asks ("p95 <= 2x the JSON API for the same data"); the single call
that answers the page's main list is printed beside it, for information:

- ``/brand/locations`` (page 1: 50 by name, with the totals, each row's groups and account
  health, the group filter): ``GET /v1/locations?brand_id&sort=name&include=total&limit=50``,
  ``GET /v1/location-groups?brand_id`` and ``GET /v1/social-accounts?brand_id&status=
  needs_reconnect``; the locations call alone beside it;
- ``/brand/calendar?view=month`` (its first page: 150 posts of the month, UTC days):
  ``GET /v1/posts?brand_id&from&to&limit=150``;
- ``/brand/campaigns/{id}`` (30,000 posts): ``GET /v1/campaigns/{id}`` (counts by status), the
  first 50 posts and the 20 failures the page lists; the counts call alone beside it;
- ``/brand/analytics`` (30 days): ``GET /v1/brands/{id}/analytics/summary``, ``…/timeseries``
  and the four ``…/leaderboard`` the page shows; the summary alone beside it.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import aiohttp
import asyncpg

CHANNELS = ("facebook", "instagram", "x")
GROUPS = 10
CAMPAIGN_NAME = "Winter menu launch"
CALENDAR_PAGE = 150
"""Posts per page of the brand calendar (``services/web/routes/brand_calendar.PAGE_SIZE``)."""
API_PAGE = 200
"""The API's largest page (``shared/pagination.MAX_LIMIT``)."""
METRIC_FIELDS = ("followers", "impressions", "reach", "engagements", "clicks", "posts_published")
BOARDS = ("engagement_rate", "rating", "response_rate", "response_time")


@dataclass
class Brand:
    campaign: uuid.UUID
    accounts: int
    campaign_posts: int
    metric_rows: int


# Set-up straight into the tables ------------------------------------------------------------


async def _accounts(
    admin: asyncpg.Connection,
    agency: uuid.UUID,
    brand: uuid.UUID,
    locations: Sequence[uuid.UUID],
    now: datetime,
) -> int:
    """A connected account per location and channel, tokens sealed as the app seals them."""
    from shared.config import Settings
    from shared.crypto import Sealed, keyring_from_settings
    from shared.social_accounts import sealing
    from shared.social_accounts.models import SocialAccount

    keyring = keyring_from_settings(Settings(env="development"))
    rows = []
    for n, location in enumerate(locations):
        for platform in CHANNELS:
            account = SocialAccount(
                id=uuid.uuid4(), agency_id=agency, brand_id=brand, location_id=location
            )
            sealing.store_tokens(
                account,
                keyring,
                access_token=Sealed(f"tok-{platform}-{location.hex[:12]}"),
                refresh_token=None,
                expires_at=None,
                refresh_expires_at=None,
            )
            broken = n % 50 == 7 and platform == "instagram"
            rows.append(
                (
                    agency, account.id, brand, location, platform,
                    f"{platform}-{location.hex}", f"Slice & Co on {platform}", "page",
                    "needs_reconnect" if broken else "connected",
                    account.access_token, account.token_key_id, now - timedelta(days=120),
                    "The platform refused the token: reconnect." if broken else None,
                )
            )  # fmt: skip
    await admin.copy_records_to_table(
        "social_account",
        records=rows,
        columns=[
            "agency_id", "id", "brand_id", "location_id", "platform", "external_id", "name",
            "kind", "status", "access_token", "token_key_id", "connected_at", "last_error",
        ],
    )  # fmt: skip
    return len(rows)


async def _groups(
    admin: asyncpg.Connection, agency: uuid.UUID, brand: uuid.UUID, locations: Sequence[uuid.UUID]
) -> None:
    groups = [uuid.uuid4() for _ in range(GROUPS)]
    await admin.copy_records_to_table(
        "location_group",
        records=[(agency, g, brand, f"Region {n + 1}") for n, g in enumerate(groups)],
        columns=["agency_id", "id", "brand_id", "name"],
    )
    await admin.copy_records_to_table(
        "location_group_member",
        records=[(agency, groups[i % GROUPS], loc) for i, loc in enumerate(locations)],
        columns=["agency_id", "group_id", "location_id"],
    )


async def _campaign(
    admin: asyncpg.Connection,
    agency: uuid.UUID,
    brand: uuid.UUID,
    template: uuid.UUID,
    locations: Sequence[uuid.UUID],
    now: datetime,
    post_columns: list[str],
) -> tuple[uuid.UUID, int]:
    """A running campaign to every location and channel, its posts timed over the month."""
    rng = random.Random(16)
    campaign = uuid.uuid4()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - first
    await admin.execute(
        "INSERT INTO campaign (agency_id, id, brand_id, name, template_id, template_version,"
        " audience, channels, schedule, approval_policy, status, fanout_total, fanout_done,"
        " launched_at)"
        " VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, 'location_confirm', 'running', $9, $9, $10)",
        agency, campaign, brand, CAMPAIGN_NAME, template, json.dumps({"kind": "all"}),
        list(CHANNELS), json.dumps({"kind": "absolute", "at": first.isoformat()}),
        len(locations) * len(CHANNELS), first - timedelta(days=3),
    )  # fmt: skip
    posts = []
    for location in locations:
        at = first + timedelta(seconds=rng.uniform(0, month.total_seconds()))
        at = at.replace(second=0, microsecond=0)
        for platform in CHANNELS:
            ident = uuid.uuid4()
            draw = rng.random()
            published_at = external = permalink = error = reason = kind = None
            attempts = 0
            if at < now:
                status = "published" if draw < 0.92 else "failed" if draw < 0.96 else "skipped"
            else:
                status = "needs_approval" if draw < 0.15 else "scheduled"
            if status == "published":
                published_at, external, attempts = at, f"{platform}-{ident.hex[:12]}", 1
                permalink = f"https://{platform}.example/posts/{external}"
            elif status == "failed":
                error, attempts = "The platform refused the login: reconnect the account.", 3
            elif status == "skipped":
                reason = "no_account: no connected account on this platform"
            elif status == "needs_approval":
                kind, reason = "location", "waiting for the location"
            text = "Fresh pizza in Athens! Our winter menu is here: truffle, chestnut, leek."
            posts.append(
                (
                    agency, ident, brand, location, campaign, template, 1, platform,
                    json.dumps({"offer": "Our winter menu is here"}), text, status, at, at,
                    at + timedelta(hours=1), published_at, external, permalink, error, reason,
                    kind, attempts, first - timedelta(days=3),
                )
            )  # fmt: skip
    await admin.copy_records_to_table("post", records=posts, columns=post_columns)
    return campaign, len(posts)


async def _metrics(admin: asyncpg.Connection, days: int, today: date) -> int:
    """``days`` days of numbers per account ending yesterday, a day per COPY (the triggers
    keep the rollups as the rows land)."""
    accounts = await admin.fetch(
        "SELECT agency_id, id, brand_id, location_id, platform FROM social_account ORDER BY id"
    )
    first = today - timedelta(days=days)
    total = 0
    for d in range(days):
        day = first + timedelta(days=d)
        records = []
        for n, a in enumerate(accounts):
            base = 300 + (n * 37) % 20_000
            impressions = base * (1 + (n + d) % 5) // 3
            reach = None if a["platform"] == "x" else impressions * 3 // 4
            engagements = impressions * (1 + (n * 7 + d) % 8) // 100
            records.append(
                (
                    a["agency_id"], a["id"], day, a["brand_id"], a["location_id"],
                    a["platform"], base + d * 3, impressions, reach, engagements,
                    engagements // 4, (n + d) % 3,
                )
            )  # fmt: skip
        await admin.copy_records_to_table(
            "daily_metric",
            records=records,
            columns=[
                "agency_id", "account_id", "metric_on", "brand_id", "location_id", "platform",
                *METRIC_FIELDS,
            ],
        )  # fmt: skip
        total += len(records)
    return total


async def seed_brand(
    admin: asyncpg.Connection,
    *,
    agency: uuid.UUID,
    brand: uuid.UUID,
    template: uuid.UUID,
    locations: Sequence[uuid.UUID],
    post_columns: list[str],
    metric_days: int,
) -> Brand:
    now = datetime.now(UTC)
    started = time.perf_counter()
    accounts = await _accounts(admin, agency, brand, locations, now)
    await _groups(admin, agency, brand, locations)
    campaign, posts = await _campaign(admin, agency, brand, template, locations, now, post_columns)
    metric_rows = await _metrics(admin, metric_days, now.date())
    for table in (
        "social_account", "location_group", "location_group_member", "campaign", "post",
        "daily_metric", "metric_rollup",
    ):  # fmt: skip
        await admin.execute(f"VACUUM ANALYZE {table}")
    print(
        f"brand set-up: {accounts:,} accounts, {GROUPS} groups, a campaign of {posts:,} posts, "
        f"{metric_rows:,} daily metric rows in {time.perf_counter() - started:.1f} s"
    )
    return Brand(campaign, accounts, posts, metric_rows)


# What is measured ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A page and the API calls (one sample: these one after the other) for the same rows,
    then what is printed beside them."""

    name: str
    page: str
    api_name: str
    api: tuple[str, ...]
    also: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _utc_midnight(day: date) -> str:
    return quote(datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat())


async def _calendar_api(
    http: aiohttp.ClientSession, base: str, bearer: dict[str, str], brand: uuid.UUID
) -> tuple[str, tuple[str, ...], int]:
    """The brand calendar's month and the API pages holding its first page of posts."""
    today = datetime.now(UTC).date()
    first = today.replace(day=1)
    after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    query = f"/v1/posts?brand_id={brand}&from={_utc_midnight(first)}&to={_utc_midnight(after)}"
    paths: list[str] = []
    cursor = None
    left = CALENDAR_PAGE
    total = 0
    while left > 0:
        size = min(API_PAGE, left)
        path = f"{query}&limit={size}" + (f"&cursor={quote(cursor)}" if cursor else "")
        async with http.get(base + path, headers=bearer) as r:
            data = await r.json()
            assert r.status == 200, (r.status, data)
        paths.append(path)
        left -= len(data["items"])
        total = data["total"]
        cursor = data["next_cursor"]
        assert cursor or left <= 0, "the month holds fewer posts than the page shows"
    return f"/brand/calendar?view=month&date={today.isoformat()}", tuple(paths), total


async def pairs(
    http: aiohttp.ClientSession,
    base: str,
    bearer: dict[str, str],
    brand: uuid.UUID,
    seeded: Brand,
) -> list[Pair]:
    month_page, month_api, month_total = await _calendar_api(http, base, bearer, brand)
    print(f"the brand's month: {month_total:,} posts, the page's first {CALENDAR_PAGE}")
    end = datetime.now(UTC).date() - timedelta(days=1)
    span = f"from={(end - timedelta(days=29)).isoformat()}&to={end.isoformat()}"
    analytics = f"/v1/brands/{brand}/analytics"
    summary = f"{analytics}/summary?{span}"
    campaign = f"/v1/campaigns/{seeded.campaign}"
    locations = f"/v1/locations?brand_id={brand}&sort=name&include=total&limit=50"
    return [
        Pair(
            "brand locations",
            "/brand/locations",
            "  API locations+groups+health",
            (
                locations,
                f"/v1/location-groups?brand_id={brand}&limit=200",
                f"/v1/social-accounts?brand_id={brand}&status=needs_reconnect&limit=50",
            ),
            (("  (API locations alone)", (locations,)),),
        ),
        Pair("brand calendar month", month_page, "  API posts (one page)", month_api),
        Pair(
            "campaign progress",
            f"/brand/campaigns/{seeded.campaign}",
            "  API counts+50+failed",
            (
                campaign,
                f"{campaign}/posts?limit=50",
                f"{campaign}/posts?status=failed&limit=20",
            ),
            (("  (API counts alone)", (campaign,)),),
        ),
        Pair(
            "brand analytics",
            "/brand/analytics",
            "  API summary+series+4 boards",
            (
                summary,
                f"{analytics}/timeseries?{span}&interval=day",
                *(f"{analytics}/leaderboard?{span}&metric={m}&limit=10" for m in BOARDS),
            ),
            (("  (API summary alone)", (summary,)),),
        ),
    ]
