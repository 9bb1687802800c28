"""The metric rollup triggers take a lock per brand before they touch a rollup row.

Two writers of the same rollup rows used to meet there in whatever order their statements
reached them. Each statement sorts its own rows, but an ``INSERT … ON CONFLICT DO UPDATE`` of
daily rows fires its UPDATE trigger (the revised days) and then its INSERT trigger (the new
days): a collection revising a later day while adding an earlier one took the later day's
group row first, while a location joining the group took the earlier day's first. Each held
what the other waited for: a deadlock. And neither saw the other's uncommitted change: a
location joining a group while its new days were written left those days out of the group's
rollup for good.

Now each trigger first takes a transaction-scoped advisory lock per brand it is about to
change rollups of (the brands of the daily rows; the brands of the memberships' locations and
groups; the deleted groups' brands), in key order, and only then reads and writes. Writers of
one brand's rollups take turns, and each one's statements run after the previous writer
committed, so they see its rows and memberships. The daily rows and memberships themselves
are written before the lock is taken, so the lock is held only from the rollup upkeep to
commit. Lock key: ``hashtextextended('metric_rollup:' || agency_id || ':' || brand_id, 0)``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 19:40:00+00:00
"""

# ruff: noqa: S608  (every SQL text here is built from this file's constants)

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What 0008 built the functions from, unchanged.
FIELDS = ("followers", "impressions", "reach", "engagements", "clicks", "posts_published")
KEY = "agency_id, scope, scope_id, metric_on, platform"
ROLLUP_COLUMNS = "accounts, " + ", ".join(f"{f}, {f}_n" for f in FIELDS)


def _sums(alias: str, sign: str) -> str:
    parts = [f"sum({sign})"]
    for f in FIELDS:
        parts.append(f"sum({sign} * coalesce({alias}.{f}, 0))")
        parts.append(f"sum({sign} * ({alias}.{f} IS NOT NULL)::int)")
    return ", ".join(parts)


_ADD = ", ".join(f"{c} = metric_rollup.{c} + excluded.{c}" for c in ROLLUP_COLUMNS.split(", "))


def _upsert(select: str) -> str:
    return (
        f"INSERT INTO metric_rollup ({KEY}, {ROLLUP_COLUMNS}) {select} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET {_ADD};"
    )


def _apply(source: str) -> str:
    brand = _upsert(
        f"SELECT d.agency_id, 'brand', d.brand_id, d.metric_on, d.platform, {_sums('d', 'd.sign')} "
        f"FROM ({source}) d GROUP BY d.agency_id, d.brand_id, d.metric_on, d.platform "
        "ORDER BY d.agency_id, d.brand_id, d.metric_on, d.platform"
    )
    group = _upsert(
        f"SELECT d.agency_id, 'group', m.group_id, d.metric_on, d.platform, {_sums('d', 'd.sign')} "
        f"FROM ({source}) d JOIN location_group_member m "
        "ON m.agency_id = d.agency_id AND m.location_id = d.location_id "
        "GROUP BY d.agency_id, m.group_id, d.metric_on, d.platform "
        "ORDER BY d.agency_id, m.group_id, d.metric_on, d.platform"
    )
    return brand + "\n" + group


_DROP_EMPTY_FOR_DAYS = (
    "DELETE FROM metric_rollup r USING (SELECT DISTINCT agency_id, metric_on, platform "
    "FROM old_rows) k WHERE r.agency_id = k.agency_id AND r.metric_on = k.metric_on "
    "AND r.platform = k.platform AND r.accounts = 0;"
)


def _members(sign: str, table: str) -> str:
    return _upsert(
        f"SELECT m.agency_id, 'group', m.group_id, d.metric_on, d.platform, {_sums('d', sign)} "
        f"FROM {table} m JOIN daily_metric d "
        "ON d.agency_id = m.agency_id AND d.location_id = m.location_id "
        "GROUP BY m.agency_id, m.group_id, d.metric_on, d.platform "
        "ORDER BY m.agency_id, m.group_id, d.metric_on, d.platform"
    )


# The lock ------------------------------------------------------------------------------------


def _lock_brands(brands: str, lock: bool) -> str:
    """Lock each brand ``brands`` (a query of ``agency_id, brand_id``) names, in key order, one
    statement at a time (a loop, so the order is the loop's and not a plan's)."""
    if not lock:
        return ""
    return (
        "FOR k IN SELECT DISTINCT hashtextextended("
        "'metric_rollup:' || b.agency_id::text || ':' || b.brand_id::text, 0) "
        f"FROM ({brands}) b ORDER BY 1 LOOP PERFORM pg_advisory_xact_lock(k); END LOOP;"
    )


def _declare(lock: bool) -> str:
    return "DECLARE k bigint;" if lock else ""


def _member_brands(table: str) -> str:
    """A membership's brand through its location, and through its group: when a group is
    deleted its memberships go after it (the location still says), when a location is
    deleted its memberships go after it (the group still says)."""
    return (
        f"SELECT l.agency_id, l.brand_id FROM {table} m JOIN location l "
        "ON l.agency_id = m.agency_id AND l.id = m.location_id "
        f"UNION SELECT g.agency_id, g.brand_id FROM {table} m JOIN location_group g "
        "ON g.agency_id = m.agency_id AND g.id = m.group_id"
    )


_BOTH = "SELECT agency_id, brand_id FROM old_rows UNION SELECT agency_id, brand_id FROM new_rows"


def daily_function(lock: bool) -> str:
    return f"""
CREATE OR REPLACE FUNCTION metric_rollup_from_daily() RETURNS trigger LANGUAGE plpgsql AS $$
{_declare(lock)}
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_lock_brands("SELECT agency_id, brand_id FROM new_rows", lock)}
    {_apply("SELECT 1 AS sign, n.* FROM new_rows n")}
  ELSIF TG_OP = 'UPDATE' THEN
    {_lock_brands(_BOTH, lock)}
    {_apply("SELECT -1 AS sign, o.* FROM old_rows o UNION ALL SELECT 1, n.* FROM new_rows n")}
    {_DROP_EMPTY_FOR_DAYS}
  ELSE
    {_lock_brands("SELECT agency_id, brand_id FROM old_rows", lock)}
    {_apply("SELECT -1 AS sign, o.* FROM old_rows o")}
    {_DROP_EMPTY_FOR_DAYS}
  END IF;
  RETURN NULL;
END $$;
"""


def member_function(lock: bool) -> str:
    return f"""
CREATE OR REPLACE FUNCTION metric_rollup_from_members() RETURNS trigger LANGUAGE plpgsql AS $$
{_declare(lock)}
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_lock_brands(_member_brands("new_members"), lock)}
    {_members("1", "new_members")}
  ELSE
    {_lock_brands(_member_brands("old_members"), lock)}
    {_members("-1", "old_members")}
    DELETE FROM metric_rollup r USING (SELECT DISTINCT agency_id, group_id FROM old_members) k
     WHERE r.agency_id = k.agency_id AND r.scope = 'group' AND r.scope_id = k.group_id
       AND r.accounts = 0;
  END IF;
  RETURN NULL;
END $$;
"""


def group_function(lock: bool) -> str:
    return f"""
CREATE OR REPLACE FUNCTION metric_forget_group() RETURNS trigger LANGUAGE plpgsql AS $$
{_declare(lock)}
BEGIN
  {_lock_brands("SELECT agency_id, brand_id FROM old_groups", lock)}
  DELETE FROM metric_rollup r USING old_groups g
   WHERE r.agency_id = g.agency_id AND r.scope = 'group' AND r.scope_id = g.id;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    for function in (daily_function(True), member_function(True), group_function(True)):
        op.execute(function)


def downgrade() -> None:
    for function in (daily_function(False), member_function(False), group_function(False)):
        op.execute(function)
