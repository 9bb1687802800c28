"""Review upsert: 100,000 reviews of 100 sources stored the way collection stores them, against
a plain COPY of the same rows.

    python bench/reviews.py            (DATABASE_URL selects the server)

1. A fresh database, migrated; an agency, a brand, 100 locations with a review source each
   (written directly, as ``tests/support/world.py`` does).
2. 100,000 reviews (1,000 per source; ratings, texts and authors as the sandbox writes them),
   their sentiment worked out with VADER (timed on its own: ``sentiment_per_s``).
3. Upsert: ``shared.reviews.collection.store_prepared`` per source (one set-based
   ``INSERT … ON CONFLICT … DO UPDATE … WHERE IS DISTINCT FROM`` of 1,000 rows plus the
   ``review.received`` / ``review.negative`` outbox rows), through the application's pool as
   ``chorus_app`` under row-level security, one transaction per source, as collection does.
4. The same 100,000 again (a re-collection): nothing may change (``rerun_rows_per_s``).
5. COPY of the same 100,000 stored rows into a scratch copy of ``review`` (``LIKE review
   INCLUDING ALL``: same defaults, constraints and indexes): the floor for writing them.

Ends with ``RESULT reviews rows_per_s=<first upsert> copy_ratio=<upsert s / COPY s>
rerun_rows_per_s=<…> sentiment_per_s=<…>``.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench._common import fresh_database, plain
from shared.config import Settings
from shared.db import Database
from shared.platforms.types import RemoteReview
from shared.reviews.collection import Place, store_prepared, upsert_params

SOURCES = 100
PER_SOURCE = 1_000
TEXTS = {
    5: ("Best pizza in town, friendly staff and quick service!", "Absolutely loved it."),
    4: ("Good food, a bit of a wait on Friday night.", "Nice place, would come back."),
    3: ("It was fine. Nothing special but okay for the price.", "Average experience."),
    2: ("Cold food and we waited 40 minutes.", "Not great, the order was wrong."),
    1: ("Terrible service, rude staff. Never again.", "Awful. Found a hair in my salad."),
}
FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kai")
LAST = ("Smith", "Okafor", "Nguyen", "Garcia", "Kowalski", "Haddad", "Rossi", "Tanaka")


async def seed(admin: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID, list[Place]]:
    agency, brand = uuid.uuid4(), uuid.uuid4()
    await admin.execute("INSERT INTO agency (id, name) VALUES ($1, 'Bench agency')", agency)
    await admin.execute(
        "INSERT INTO brand (agency_id, id, name, name_key) "
        "VALUES ($1, $2, 'Bench brand', 'bench brand')",
        agency,
        brand,
    )
    places = []
    for i in range(SOURCES):
        location, source = uuid.uuid4(), uuid.uuid4()
        await admin.execute(
            "INSERT INTO location (agency_id, id, brand_id, name, city, country, time_zone,"
            " custom_fields) VALUES ($1, $2, $3, $4, 'Springfield', 'US', 'America/Chicago',"
            " '{}')",
            agency, location, brand, f"Location {i:03d}",
        )  # fmt: skip
        await admin.execute(
            "INSERT INTO review_source (agency_id, id, brand_id, location_id, source,"
            " external_id) VALUES ($1, $2, $3, $4, 'yelp', $5)",
            agency, source, brand, location, f"biz-{i}",
        )  # fmt: skip
        places.append(Place(agency, brand, location, source, None, "yelp"))
    return agency, brand, places


def reviews_for(place: Place, rng: random.Random) -> list[RemoteReview]:
    start = datetime.now(UTC) - timedelta(days=365)
    out = []
    for n in range(PER_SOURCE):
        rating = rng.choices((5, 4, 3, 2, 1), weights=(45, 25, 12, 8, 10))[0]
        at = start + timedelta(seconds=rng.uniform(0, 365 * 86_400))
        out.append(
            RemoteReview(
                external_id=f"{place.source_id}-r{n}",
                rating=rating,
                text=rng.choice(TEXTS[rating]) + f" (visit {n})",
                author=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                created_at=at,
                updated_at=at,
            )
        )
    return out


async def upsert_all(
    db: Database, places: list[Place], prepared: list[dict[str, Any]]
) -> tuple[float, int, int]:
    new = updated = 0
    started = time.perf_counter()
    for place, params in zip(places, prepared, strict=True):
        async with db.transaction(place.agency_id) as session:
            stored = await store_prepared(session, place, params, auto_reply=False)
        new += stored.new
        updated += stored.updated
    return time.perf_counter() - started, new, updated


async def main() -> None:
    async with fresh_database("reviews") as url:
        admin = await asyncpg.connect(plain(url))
        settings = Settings(env="development", database_url=plain(url), log_level="WARNING")
        db = Database(settings.app_db_url, pool_size=2)
        try:
            agency, _, places = await seed(admin)
            rng = random.Random(7)
            remote = [reviews_for(p, rng) for p in places]
            started = time.perf_counter()
            prepared = [upsert_params(p, r, 2, True) for p, r in zip(places, remote, strict=True)]
            sentiment_s = time.perf_counter() - started
            total = SOURCES * PER_SOURCE

            first_s, new, _ = await upsert_all(db, places, prepared)
            assert new == total, new
            for params in prepared:  # a re-collection: same rows, new candidate ids
                params["ids"] = [uuid.uuid4() for _ in params["ids"]]
            rerun_s, again_new, again_updated = await upsert_all(db, places, prepared)
            assert (again_new, again_updated) == (0, 0), (again_new, again_updated)
            stored = await admin.fetchval(
                "SELECT count(*) FROM review WHERE agency_id = $1", agency
            )
            events = await admin.fetchval(
                "SELECT count(*) FROM outbox_event WHERE agency_id = $1", agency
            )
            assert stored == total, stored

            await admin.execute("CREATE TABLE review_copy (LIKE review INCLUDING ALL)")
            columns = [
                r["attname"]
                for r in await admin.fetch(
                    "SELECT attname FROM pg_attribute WHERE attrelid = 'review'::regclass"
                    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
                )
            ]
            rows = [tuple(r.values()) for r in await admin.fetch("SELECT * FROM review")]
            started = time.perf_counter()
            await admin.copy_records_to_table("review_copy", records=rows, columns=columns)
            copy_s = time.perf_counter() - started
        finally:
            await db.dispose()
            await admin.close()
    print(
        f"upsert {total} rows: {first_s:.2f} s ({total / first_s:,.0f} rows/s), "
        f"{events} outbox events; re-run (nothing changed): {rerun_s:.2f} s; "
        f"COPY: {copy_s:.2f} s; VADER sentiment: {sentiment_s:.2f} s"
    )
    print(
        f"RESULT reviews rows_per_s={total / first_s:.0f} copy_ratio={first_s / copy_s:.2f} "
        f"rerun_rows_per_s={total / rerun_s:.0f} sentiment_per_s={total / sentiment_s:.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
