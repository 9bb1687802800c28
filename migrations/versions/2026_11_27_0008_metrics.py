"""Daily metrics per account, and their rollups per brand and per location group.

The rollups are kept by triggers, so nothing that changes the daily rows can forget them:

- ``daily_metric`` (statement-level, with transition tables): inserted, updated and deleted
  rows add or subtract their numbers to their brand's rollup and to the rollup of every group
  the location belongs to, one grouped upsert per statement;
- ``location_group_member``: a location joining a group adds its days to the group's rollup,
  leaving subtracts them;
- ``location`` (before a row is deleted): its daily rows go first, while its memberships are
  still there to say which group rollups they counted in;
- ``location_group`` (deleted): its rollup rows go.

Rows whose ``accounts`` fall to 0 are removed. The functions run as the caller (``chorus_app``,
under row-level security), so they only ever touch the caller's agency.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 17:30:00+00:00
"""

# ruff: noqa: S608  (every SQL text here is built from this file's constants)

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("daily_metric", "metric_rollup")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
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
    """Add the signed rows of ``source`` (columns: sign, then daily_metric's) to the brand's
    and the groups' rollups. Grouped and sorted, so concurrent writers lock rollup rows in
    one order."""
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

DAILY_FUNCTION = f"""
CREATE FUNCTION metric_rollup_from_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_apply("SELECT 1 AS sign, n.* FROM new_rows n")}
  ELSIF TG_OP = 'UPDATE' THEN
    {_apply("SELECT -1 AS sign, o.* FROM old_rows o UNION ALL SELECT 1, n.* FROM new_rows n")}
    {_DROP_EMPTY_FOR_DAYS}
  ELSE
    {_apply("SELECT -1 AS sign, o.* FROM old_rows o")}
    {_DROP_EMPTY_FOR_DAYS}
  END IF;
  RETURN NULL;
END $$;
"""


def _members(sign: str, table: str) -> str:
    return _upsert(
        f"SELECT m.agency_id, 'group', m.group_id, d.metric_on, d.platform, {_sums('d', sign)} "
        f"FROM {table} m JOIN daily_metric d "
        "ON d.agency_id = m.agency_id AND d.location_id = m.location_id "
        "GROUP BY m.agency_id, m.group_id, d.metric_on, d.platform "
        "ORDER BY m.agency_id, m.group_id, d.metric_on, d.platform"
    )


MEMBER_FUNCTION = f"""
CREATE FUNCTION metric_rollup_from_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_members("1", "new_members")}
  ELSE
    {_members("-1", "old_members")}
    DELETE FROM metric_rollup r USING (SELECT DISTINCT agency_id, group_id FROM old_members) k
     WHERE r.agency_id = k.agency_id AND r.scope = 'group' AND r.scope_id = k.group_id
       AND r.accounts = 0;
  END IF;
  RETURN NULL;
END $$;
"""

LOCATION_FUNCTION = """
CREATE FUNCTION metric_forget_location() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM daily_metric WHERE agency_id = OLD.agency_id AND location_id = OLD.id;
  RETURN OLD;
END $$;
"""

GROUP_FUNCTION = """
CREATE FUNCTION metric_forget_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM metric_rollup r USING old_groups g
   WHERE r.agency_id = g.agency_id AND r.scope = 'group' AND r.scope_id = g.id;
  RETURN NULL;
END $$;
"""

TRIGGERS = (
    (
        "metric_rollup_insert",
        "AFTER INSERT",
        "daily_metric",
        "NEW TABLE AS new_rows",
        "metric_rollup_from_daily",
    ),
    (
        "metric_rollup_update",
        "AFTER UPDATE",
        "daily_metric",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "metric_rollup_from_daily",
    ),
    (
        "metric_rollup_delete",
        "AFTER DELETE",
        "daily_metric",
        "OLD TABLE AS old_rows",
        "metric_rollup_from_daily",
    ),
    (
        "metric_rollup_join",
        "AFTER INSERT",
        "location_group_member",
        "NEW TABLE AS new_members",
        "metric_rollup_from_members",
    ),
    (
        "metric_rollup_leave",
        "AFTER DELETE",
        "location_group_member",
        "OLD TABLE AS old_members",
        "metric_rollup_from_members",
    ),
    (
        "metric_rollup_group_gone",
        "AFTER DELETE",
        "location_group",
        "OLD TABLE AS old_groups",
        "metric_forget_group",
    ),
)


def upgrade() -> None:
    op.create_table(
        "daily_metric",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("metric_on", sa.Date(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        *(sa.Column(f, sa.BigInteger(), nullable=True) for f in FIELDS),
        sa.Column(
            "collected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "account_id"],
            ["social_account.agency_id", "social_account.id"],
            name=op.f("fk_daily_metric_agency_id_account_id_social_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            name=op.f("fk_daily_metric_agency_id_location_id_location"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "agency_id", "account_id", "metric_on", name=op.f("pk_daily_metric")
        ),
    )
    op.create_index(
        op.f("ix_daily_metric_agency_id_location_id_metric_on"),
        "daily_metric",
        ["agency_id", "location_id", "metric_on"],
    )
    op.create_index(
        op.f("ix_daily_metric_agency_id_brand_id_metric_on"),
        "daily_metric",
        ["agency_id", "brand_id", "metric_on"],
    )
    op.create_table(
        "metric_rollup",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.UUID(), nullable=False),
        sa.Column("metric_on", sa.Date(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in ROLLUP_COLUMNS.split(", ")),
        sa.CheckConstraint(
            "scope IN ('brand', 'group')", name=op.f("ck_metric_rollup_scope_known")
        ),
        sa.PrimaryKeyConstraint(
            "agency_id", "scope", "scope_id", "metric_on", "platform", name=op.f("pk_metric_rollup")
        ),
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
        )
    for function in (DAILY_FUNCTION, MEMBER_FUNCTION, LOCATION_FUNCTION, GROUP_FUNCTION):
        op.execute(function)
    for name, when, table, referencing, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute(
        "CREATE TRIGGER metric_forget_location BEFORE DELETE ON location "
        "FOR EACH ROW EXECUTE FUNCTION metric_forget_location()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS metric_forget_location ON location")
    for name, _, table, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in (
        "metric_rollup_from_daily",
        "metric_rollup_from_members",
        "metric_forget_location",
        "metric_forget_group",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("metric_rollup")
    op.drop_index(op.f("ix_daily_metric_agency_id_brand_id_metric_on"), table_name="daily_metric")
    op.drop_index(
        op.f("ix_daily_metric_agency_id_location_id_metric_on"), table_name="daily_metric"
    )
    op.drop_table("daily_metric")
