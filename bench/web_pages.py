"""The web app's pages against the JSON API listing the same rows (issue #15).

    python bench/web_pages.py [--requests N] [--posts-elsewhere N] [--reviews-elsewhere N]
    (make bench NAME=web_pages; DATABASE_URL / REDIS_URL select the servers)

1. A fresh database, migrated; the whole app (API and web) under uvicorn in one child process
   on a loopback port, its agency request limit raised for the run.
2. Through the API: an agency, a brand, a published template, the measured location (Athens
   time) and its location manager (invited, the mailed token accepted). Straight into the
   tables (COPY, as the set-up is not what is measured): 9,999 more locations of the brand, the
   measured location's three months of posts (four a day on Facebook, Instagram and X from the
   1st of last month to the end of next month: published, a few failed or cancelled before
   today, scheduled after), 60 posts of a campaign waiting for its confirmation, 300 reviews
   of the last three months (a fifth of them low and unanswered), and for every other location
   ``--posts-elsewhere`` posts and ``--reviews-elsewhere`` reviews over the same months. Then
   ``VACUUM ANALYZE``.
3. The location manager signs in twice: through the web app's sign-in form (its session
   cookie) and through the API (a bearer token). Each page and its API equivalent is then
   fetched N times with 32 requests in flight (aiohttp, keep-alive), after a warm-up, in
   rounds of 100 requests, page then API, API then page, … (a burst of other work on the
   machine, or its drift, weighs on both alike):

   | page | the API's equivalent (the same rows) |
   |---|---|
   | ``/`` home | ``GET /v1/locations/{id}/needs`` (the counts) then the three lists it shows:
   ``…/approvals?limit=5``, ``/v1/posts`` failed in 14 days and coming, 5 each — one sample is
   the four calls one after the other, what a client of the API needs for the same rows (the
   needs call alone is printed beside it) |
   | ``/calendar?view=month`` | ``GET /v1/posts?location_id&from&to&limit=200`` (the month) |
   | ``/approvals`` | ``GET /v1/locations/{id}/approvals?limit=50`` (the page's 50) |
   | ``/reviews`` | ``GET /v1/reviews?location_id&limit=20`` (the page's 20) |

   Every answer must be 200 and non-empty; the calendar's API answer must hold the whole month.
4. Part 2 (issue #16, ``bench/_web_pages_brand.py``): the brand's accounts, groups, a 30,000-post
   campaign and 60 days of numbers; the brand's manager signs in the same two ways; the brand
   locations list, brand calendar, campaign progress and analytics pages against the API calls
   for the same rows, ``--brand-requests`` times each, the same way. Every API token is fetched
   again before each page's run (a token lives 15 minutes).
5. Each page's weight: its HTML plus every stylesheet and script it links (uncompressed).

Prints per page and per API call p50/p95 latency (as the client sees it, 32 in flight) and
the server's CPU per request, the page's size; then
``RESULT web_pages p95_ratio=<worst page p95 / its API's p95> max_kb=<largest page>`` over
the pages of parts 1 and 2.
Targets: each page's p95 ≤ 2× its API's, every page ≤ 100 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar as month_days
import json
import random
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg

from bench import _web_pages_brand as brand_pages
from bench._common import (
    PASSWORD,
    api_process,
    cpu_seconds,
    create_brand,
    fresh_database,
    percentile,
    plain,
    sign_up,
)

LOCATIONS = 10_000
ZONE = "Europe/Athens"
IN_FLIGHT = 32
ROUND = 100
PLATFORMS = ("facebook", "instagram", "x")
DAY_SLOTS = ((9, "facebook"), (9, "instagram"), (18, "x"), (18, "facebook"))
"""The measured location's four posts a day: (local hour, platform)."""
WAITING = 60
OWN_REVIEWS = 300
ENV = {
    "CHORUS_DB_POOL_SIZE": str(IN_FLIGHT),
    "CHORUS_DB_MAX_OVERFLOW": "0",
    "CHORUS_RATE_LIMIT_AGENCY_REQUESTS": "100000000/minute",
    "CHORUS_DB_STATEMENT_TIMEOUT_SECONDS": "60",
}
"""A pooled connection for each request in flight (on a busy machine a request would otherwise
wait out the pool's 5 s and answer 503), the agency's request limit raised for the run, and
the statement timeout raised from 5 s to 60 s: with 32 brand analytics pages in flight on two
busy cores, the engagement-rate leaderboard (an aggregate over the brand's daily rows: 900,000
for 30 days of 10,000 locations × 3 channels) waited out 5 s and the page answered 503."""
BODY = "Fresh pizza in {{ location.city }}! {{ slot.offer }}"
TEXTS = (
    "Fresh pizza in Athens! Two for one on Tuesdays 🍕",
    "Fresh pizza in Athens! Φρέσκια μαργαρίτα με βασιλικό",
    "Fresh pizza in Athens! Family box with a free lemonade",
)
REVIEW_TEXTS = {
    5: "Best pizza in town, friendly staff and quick service!",
    4: "Good food, a bit of a wait on Friday night.",
    3: "It was fine. Nothing special but okay for the price.",
    2: "Cold food and we waited 40 minutes.",
    1: "Terrible service, rude staff. Never again.",
}


@dataclass
class World:
    agency: uuid.UUID
    brand: uuid.UUID
    template: uuid.UUID
    location: uuid.UUID
    manager_email: str
    brand_manager_email: str
    others: list[uuid.UUID] = field(default_factory=list)


# Set-up through the API --------------------------------------------------------------------


async def _json(response: aiohttp.ClientResponse, status: int) -> Any:
    data = await response.json()
    assert response.status == status, (response.status, data)
    return data


async def build_world(http: aiohttp.ClientSession, base: str, admin: asyncpg.Connection) -> World:
    owner = await sign_up(http, base)
    brand = await create_brand(http, base, owner, "Slice & Co")
    async with http.post(
        f"{base}/v1/templates",
        json={
            "brand_id": brand,
            "name": "Daily offer",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 80}},
        },
        headers=owner.headers,
    ) as r:
        template = (await _json(r, 201))["template_id"]
    async with http.post(
        f"{base}/v1/templates/{template}/versions/1/publish", headers=owner.headers
    ) as r:
        await _json(r, 200)
    async with http.post(
        f"{base}/v1/locations",
        json={
            "brand_id": brand, "name": "Slice & Co Syntagma", "city": "Athens",
            "country": "GR", "time_zone": ZONE,
        },
        headers=owner.headers,
    ) as r:  # fmt: skip
        location = (await _json(r, 201))["id"]
    email = await invite(
        http, base, owner, admin, "manager", {"role": "location_manager", "location_id": location}
    )
    head_office = await invite(
        http, base, owner, admin, "head-office", {"role": "brand_manager", "brand_id": brand}
    )
    return World(
        uuid.UUID(owner.agency_id),
        uuid.UUID(brand),
        uuid.UUID(template),
        uuid.UUID(location),
        email,
        head_office,
    )


async def invite(
    http: aiohttp.ClientSession,
    base: str,
    owner: Any,
    admin: asyncpg.Connection,
    who: str,
    role: dict[str, str],
) -> str:
    """Someone invited with ``role`` who accepted (the mailed token): their e-mail address."""
    email = f"{who}-{uuid.uuid4().hex[:8]}@slice.example"
    async with http.post(
        f"{base}/v1/invitations", json={"email": email, **role}, headers=owner.headers
    ) as r:
        await _json(r, 201)
    mail = await admin.fetchval(
        "SELECT body FROM outbound_email WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1",
        email,
    )
    token = re.search(r"Invitation token: (\S+)", mail)
    assert token, mail
    async with http.post(
        f"{base}/v1/invitations/accept",
        json={"token": token.group(1), "password": PASSWORD, "full_name": "Ελένη Π."},
    ) as r:
        await _json(r, 200)
    return email


# Set-up straight into the tables ----------------------------------------------------------


def _months(today: date) -> tuple[date, date]:
    """From the 1st of last month to the 1st of the month after next."""
    first = today.replace(day=1)
    start = (first - timedelta(days=1)).replace(day=1)
    after = first + timedelta(days=month_days.monthrange(first.year, first.month)[1])
    end = after + timedelta(days=month_days.monthrange(after.year, after.month)[1])
    return start, end


async def _copy(admin: asyncpg.Connection, table: str, columns: list[str], rows: list[Any]) -> None:
    await admin.copy_records_to_table(table, records=rows, columns=columns)


POST_COLUMNS = [
    "agency_id", "id", "brand_id", "location_id", "campaign_id", "template_id",
    "template_version", "platform", "slot_values", "text", "status", "scheduled_at",
    "due_at", "publish_deadline", "published_at", "external_id", "permalink", "last_error",
    "status_reason", "approval_kind", "attempts", "created_at",
]  # fmt: skip


def _post(
    w: World,
    location: uuid.UUID,
    platform: str,
    at: datetime,
    now: datetime,
    rng: random.Random,
    campaign: uuid.UUID | None = None,
) -> tuple[Any, ...]:
    ident = uuid.uuid4()
    text = rng.choice(TEXTS)
    slots = json.dumps({"offer": text.split("! ", 1)[1]})
    published_at = external = permalink = error = reason = kind = None
    attempts = 0
    if campaign is not None:
        status, kind, reason = "needs_approval", "location", "waiting for the location"
    elif at < now:
        draw = rng.random()
        status = "published" if draw < 0.9 else "failed" if draw < 0.95 else "cancelled"
        if status == "published":
            published_at, external, attempts = at, f"{platform}-{ident.hex[:12]}", 1
            permalink = f"https://{platform}.example/posts/{external}"
        elif status == "failed":
            error, attempts = "The platform refused the login: reconnect the account.", 3
    else:
        status = "scheduled"
    return (
        w.agency, ident, w.brand, location, campaign, w.template, 1, platform, slots, text,
        status, at, at, at + timedelta(hours=1), published_at, external, permalink, error,
        reason, kind, attempts, at - timedelta(days=7),
    )  # fmt: skip


async def seed(
    admin: asyncpg.Connection, w: World, posts_elsewhere: int, reviews_elsewhere: int
) -> dict[str, int]:
    rng = random.Random(15)
    zone = ZoneInfo(ZONE)
    now = datetime.now(UTC)
    start, end = _months(now.astimezone(zone).date())
    days = (end - start).days

    w.others = [uuid.uuid4() for _ in range(LOCATIONS - 1)]
    await _copy(
        admin,
        "location",
        ["agency_id", "id", "brand_id", "external_ref", "name", "city", "country", "time_zone"],
        [
            (w.agency, ident, w.brand, f"store-{n:05d}", f"Slice & Co #{n}", "Athens", "GR", ZONE)
            for n, ident in enumerate(w.others)
        ],
    )

    posts: list[tuple[Any, ...]] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        for hour, platform in DAY_SLOTS:
            at = datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(UTC)
            posts.append(_post(w, w.location, platform, at, now, rng))
    for n in range(WAITING // len(PLATFORMS)):  # one post per platform and campaign
        campaign = uuid.uuid4()
        await admin.execute(
            "INSERT INTO campaign (agency_id, id, brand_id, name, template_id, template_version,"
            " audience, channels, schedule, approval_policy, status)"
            " VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, 'location_confirm', 'running')",
            w.agency, campaign, w.brand, f"Summer slices, week {n + 1}", w.template,
            json.dumps({"kind": "all"}), list(PLATFORMS),
            json.dumps({"kind": "absolute", "at": now.isoformat()}),
        )  # fmt: skip
        at = (now + timedelta(days=2 + n)).replace(minute=0, second=0, microsecond=0)
        for platform in PLATFORMS:
            posts.append(_post(w, w.location, platform, at, now, rng, campaign=campaign))
    own = len(posts)
    span = (end - start).total_seconds()
    first = datetime(start.year, start.month, start.day, tzinfo=zone).astimezone(UTC)
    for location in w.others:
        for _ in range(posts_elsewhere):
            at = first + timedelta(seconds=rng.uniform(0, span))
            posts.append(_post(w, location, rng.choice(PLATFORMS), at, now, rng))
    await _copy(admin, "post", POST_COLUMNS, posts)

    sources = {w.location: uuid.uuid4()} | {loc: uuid.uuid4() for loc in w.others}
    await _copy(
        admin,
        "review_source",
        ["agency_id", "id", "brand_id", "location_id", "source", "external_id", "name"],
        [
            (w.agency, source, w.brand, loc, "yelp", f"biz-{source.hex[:12]}", "Slice & Co")
            for loc, source in sources.items()
        ],
    )
    reviews: list[tuple[Any, ...]] = []
    since = now - timedelta(days=90)
    for loc, source in sources.items():
        for _ in range(OWN_REVIEWS if loc == w.location else reviews_elsewhere):
            rating = rng.choices((5, 4, 3, 2, 1), weights=(45, 25, 10, 10, 10))[0]
            at = since + timedelta(seconds=rng.uniform(0, 90 * 86_400))
            low = rating <= 2
            answered = not low and rng.random() < 0.5
            reviews.append(
                (
                    w.agency, uuid.uuid4(), w.brand, loc, source, "yelp",
                    f"r-{uuid.uuid4().hex[:16]}", rating, REVIEW_TEXTS[rating],
                    f"{rng.choice(('Ana', 'Nikos', 'Maria', 'Jon'))} {rng.choice('KLMP')}.",
                    at, at, 0.6 if rating >= 4 else -0.6 if low else 0.0,
                    "positive" if rating >= 4 else "negative" if low else "neutral",
                    low, "low_rating" if low else None,
                    "Thank you for coming by!" if answered else None,
                    "sent" if answered else "none", at + timedelta(hours=3) if answered else None,
                )
            )  # fmt: skip
    await _copy(
        admin,
        "review",
        [
            "agency_id", "id", "brand_id", "location_id", "source_id", "source", "external_id",
            "rating", "text", "author", "created_at", "updated_at", "sentiment_score",
            "sentiment_label", "needs_attention", "attention_reason", "reply_text",
            "reply_status", "replied_at",
        ],
        reviews,
    )  # fmt: skip
    for table in ("location", "post", "review", "review_source", "campaign"):
        await admin.execute(f"VACUUM ANALYZE {table}")
    return {"posts": len(posts), "own_posts": own, "reviews": len(reviews)}


# Signing in --------------------------------------------------------------------------------


async def web_cookie(base: str, email: str) -> str:
    """The session cookie the web app's sign-in form sets, as a ``Cookie`` header."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as r:
            form = await r.text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, "no CSRF token on the sign-in page"
        async with http.post(
            f"{base}/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, (r.status, await r.text())
        session = next((c for c in jar if c.key == "chorus_session"), None)
        assert session is not None, "no session cookie after signing in"
        return f"chorus_session={session.value}"


async def api_token(http: aiohttp.ClientSession, base: str, email: str) -> str:
    async with http.post(f"{base}/v1/auth/login", json={"email": email, "password": PASSWORD}) as r:
        return str((await _json(r, 200))["access_token"])


# Load --------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    paths: tuple[str, ...]
    """One sample: these fetched one after the other (what a client needs for the page)."""
    headers: dict[str, str]
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0
    requests: int = 0
    size: int = 0

    def row(self) -> str:
        cpu_ms = self.cpu / self.requests * 1000 if self.requests else float("nan")
        return (
            f"{self.name:<26} p50 {percentile(self.latencies, 0.5) * 1000:7.1f} ms   "
            f"p95 {self.p95 * 1000:7.1f} ms   server CPU {cpu_ms:5.2f} ms/request"
        )

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 0.95)


async def hammer(
    http: aiohttp.ClientSession, base: str, target: Target, count: int, pid: int, keep: bool
) -> None:
    """``count`` requests, ``IN_FLIGHT`` at a time; latencies and the server's CPU kept when
    ``keep`` (not for a warm-up)."""
    left = count

    async def one_after_another() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            for path in target.paths:
                async with http.get(
                    base + path, headers=target.headers, allow_redirects=False
                ) as r:
                    body = await r.read()
                if r.status != 200 or not body:
                    raise RuntimeError(f"{target.name}: {r.status} {body[:300]!r}")
            took = time.perf_counter() - started
            if keep:
                target.latencies.append(took)

    cpu_before = cpu_seconds(pid) or 0.0
    await asyncio.gather(*(one_after_another() for _ in range(IN_FLIGHT)))
    if keep:
        target.cpu += (cpu_seconds(pid) or 0.0) - cpu_before
        target.requests += count


async def page_weight(http: aiohttp.ClientSession, base: str, target: Target) -> int:
    """The page's HTML and every stylesheet and script it links, in bytes."""
    async with http.get(base + target.paths[0], headers=target.headers) as r:
        html = await r.read()
    total = len(html)
    text = html.decode()
    linked = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', text)
    linked += re.findall(r'<script[^>]+src="([^"]+)"', text)
    for asset in linked:
        async with http.get(base + asset) as r:
            assert r.status == 200, asset
            total += len(await r.read())
    return total


async def month_api_path(w: World) -> tuple[str, str]:
    zone = ZoneInfo(ZONE)
    today = datetime.now(UTC).astimezone(zone).date()
    first = today.replace(day=1)
    after = first + timedelta(days=month_days.monthrange(first.year, first.month)[1])

    def midnight(day: date) -> str:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).isoformat()

    query = quote(midnight(first)), quote(midnight(after))
    return (
        f"/calendar?view=month&date={today.isoformat()}",
        f"/v1/posts?location_id={w.location}&from={query[0]}&to={query[1]}&limit=200",
    )


async def main(
    requests: int,
    brand_requests: int,
    posts_elsewhere: int,
    reviews_elsewhere: int,
    metric_days: int,
) -> None:
    async with fresh_database("web_pages") as url:
        admin = await asyncpg.connect(plain(url))
        try:
            with api_process(url, env=ENV) as (base, process):
                connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
                async with aiohttp.ClientSession(
                    connector=connector, cookie_jar=aiohttp.DummyCookieJar()
                ) as http:
                    started = time.perf_counter()
                    w = await build_world(http, base, admin)
                    counts = await seed(admin, w, posts_elsewhere, reviews_elsewhere)
                    print(
                        f"set-up: {LOCATIONS:,} locations, {counts['posts']:,} posts "
                        f"({counts['own_posts']} at the measured location), "
                        f"{counts['reviews']:,} reviews in {time.perf_counter() - started:.1f} s"
                    )
                    seeded = await brand_pages.seed_brand(
                        admin,
                        agency=w.agency,
                        brand=w.brand,
                        template=w.template,
                        locations=[w.location, *w.others],
                        post_columns=POST_COLUMNS,
                        metric_days=metric_days,
                    )
                    cookie = {"Cookie": await web_cookie(base, w.manager_email)}
                    bearer = {
                        "Authorization": f"Bearer {await api_token(http, base, w.manager_email)}"
                    }
                    month_page, month_api = await month_api_path(w)
                    here = f"/v1/locations/{w.location}"
                    now = datetime.now(UTC)
                    recent = quote((now - timedelta(days=14)).isoformat())
                    coming = "&status=approved&status=scheduled&status=queued"
                    home_lists = (
                        f"{here}/needs",
                        f"{here}/approvals?limit=5",
                        f"/v1/posts?location_id={w.location}&status=failed&from={recent}&limit=5",
                        f"/v1/posts?location_id={w.location}{coming}"
                        f"&from={quote(now.isoformat())}&limit=5",
                    )
                    groups: list[tuple[Target, ...]] = [
                        (
                            Target("home /", ("/",), cookie),
                            Target("  API needs + 3 lists", home_lists, bearer),
                            Target("  (API needs alone)", (f"{here}/needs",), bearer),
                        ),
                        (
                            Target("calendar month", (month_page,), cookie),
                            Target("  API posts of the month", (month_api,), bearer),
                        ),
                        (
                            Target("approvals", ("/approvals",), cookie),
                            Target("  API approvals", (f"{here}/approvals?limit=50",), bearer),
                        ),
                        (
                            Target("reviews", ("/reviews",), cookie),
                            Target(
                                "  API reviews",
                                (f"/v1/reviews?location_id={w.location}&limit=20",),
                                bearer,
                            ),
                        ),
                    ]
                    async with http.get(base + month_api, headers=bearer) as r:
                        month = await _json(r, 200)
                    assert month["next_cursor"] is None, "the month needs more than one API page"
                    print(f"the month: {len(month['items'])} posts")

                    # Part 2: the brand's pages, signed in as the brand's manager.
                    head_cookie = {"Cookie": await web_cookie(base, w.brand_manager_email)}
                    head_bearer = {
                        "Authorization": "Bearer "
                        + await api_token(http, base, w.brand_manager_email)
                    }
                    part_two = len(groups)
                    for pair in await brand_pages.pairs(http, base, head_bearer, w.brand, seeded):
                        groups.append(
                            (
                                Target(pair.name, (pair.page,), head_cookie),
                                Target(pair.api_name, pair.api, head_bearer),
                                *(Target(name, paths, head_bearer) for name, paths in pair.also),
                            )
                        )
                    for group in groups:
                        group[0].size = await page_weight(http, base, group[0])
                        print(f"{group[0].name}: {group[0].size / 1024:.1f} KB", flush=True)
                    for n_group, group in enumerate(groups):
                        count = requests if n_group < part_two else brand_requests
                        # A fresh access token for each group (one lives 15 minutes).
                        if n_group < part_two:
                            token = await api_token(http, base, w.manager_email)
                            bearer["Authorization"] = f"Bearer {token}"
                        else:
                            token = await api_token(http, base, w.brand_manager_email)
                            head_bearer["Authorization"] = f"Bearer {token}"
                        began = time.perf_counter()
                        for target in group:
                            await hammer(http, base, target, min(200, count), process.pid, False)
                        for n in range(max(1, count // ROUND)):
                            for target in group if n % 2 == 0 else group[::-1]:
                                await hammer(
                                    http, base, target, min(ROUND, count), process.pid, True
                                )
                        print(f"{group[0].name}: {time.perf_counter() - began:.0f} s", flush=True)
                        for target in group:
                            print(target.row(), flush=True)
        finally:
            await admin.close()

    print(
        f"{requests} requests per part-1 target, {brand_requests} per brand target, "
        f"{IN_FLIGHT} in flight; latency as the client sees it"
    )
    worst = 0.0
    for page, api, *also in groups:
        ratio = page.p95 / api.p95
        worst = max(worst, ratio)
        print(page.row() + f"   {page.size / 1024:6.1f} KB (HTML+CSS+JS)")
        for other in (api, *also):
            print(other.row() + f"   page p95 / this p95 = {page.p95 / other.p95:.2f}")
    max_kb = max(group[0].size for group in groups) / 1024
    print(f"RESULT web_pages p95_ratio={worst:.2f} max_kb={max_kb:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per page and per API call")
    parser.add_argument(
        "--brand-requests", type=int, default=300, help="per brand page and its API calls"
    )
    parser.add_argument("--posts-elsewhere", type=int, default=30, help="posts per other location")
    parser.add_argument(
        "--reviews-elsewhere", type=int, default=10, help="reviews per other location"
    )
    parser.add_argument(
        "--metric-days", type=int, default=60, help="days of numbers per account (to yesterday)"
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.requests,
            args.brand_requests,
            args.posts_elsewhere,
            args.reviews_elsewhere,
            args.metric_days,
        )
    )
