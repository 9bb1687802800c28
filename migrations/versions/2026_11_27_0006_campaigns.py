"""Campaigns, idempotent requests, and what posts need to be dispatched and published exactly
once: the ``unconfirmed`` status, ``due_at`` with its cross-agency index, leases, deadlines,
approvals. The dispatcher names its scan (``app.scan = 'post_dispatch'``) to see and lease due
posts of every agency; everything else about a post happens in its own tenant.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 17:02:28.659335+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("campaign", "idempotent_request")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
SCAN = "current_setting('app.scan', true)"
STATUSES = (
    "draft",
    "needs_approval",
    "approved",
    "scheduled",
    "queued",
    "publishing",
    "unconfirmed",
    "published",
    "failed",
    "cancelled",
    "skipped",
)
OLD_STATUSES = tuple(s for s in STATUSES if s != "unconfirmed")


def _status_check(statuses: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_post_status_known"), "post", type_="check")
    op.create_check_constraint(
        op.f("ck_post_status_known"),
        "post",
        "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")",
    )


def upgrade() -> None:
    op.create_table(
        "idempotent_request",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("principal", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_idempotent_request")),
    )
    op.create_index(
        "uq_idempotent_request_key",
        "idempotent_request",
        ["agency_id", "principal", "key"],
        unique=True,
    )
    op.create_table(
        "campaign",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("audience", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "variables",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("approval_policy", sa.String(length=30), server_default="none", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("fanout_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fanout_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("launched_by", sa.UUID(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "approval_policy IN ('none', 'location_confirm', 'brand_approval')",
            name=op.f("ck_campaign_approval_policy_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'launching', 'running', 'paused', 'completed', 'cancelled')",
            name=op.f("ck_campaign_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "brand_id"],
            ["brand.agency_id", "brand.id"],
            name=op.f("fk_campaign_agency_id_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "template_id"],
            ["template.agency_id", "template.id"],
            name=op.f("fk_campaign_agency_id_template_id_template"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_campaign")),
    )
    op.create_index(
        op.f("ix_campaign_agency_id_brand_id_id"),
        "campaign",
        ["agency_id", "brand_id", "id"],
        unique=False,
    )
    op.add_column("post", sa.Column("status_reason", sa.Text(), nullable=True))
    op.add_column("post", sa.Column("account_id", sa.UUID(), nullable=True))
    op.add_column("post", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("post", sa.Column("lease_token", sa.UUID(), nullable=True))
    op.add_column(
        "post", sa.Column("publish_started_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("post", sa.Column("publish_deadline", sa.DateTime(timezone=True), nullable=True))
    op.add_column("post", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("post", sa.Column("approval_kind", sa.String(length=20), nullable=True))
    op.add_column("post", sa.Column("decided_by", sa.UUID(), nullable=True))
    op.add_column("post", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("post", sa.Column("decision_comment", sa.Text(), nullable=True))
    op.create_index(
        op.f("ix_post_agency_id_campaign_id_status"),
        "post",
        ["agency_id", "campaign_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_post_due",
        "post",
        ["due_at"],
        unique=False,
        postgresql_where="status IN ('scheduled', 'queued', 'publishing', 'unconfirmed')",
    )
    op.create_unique_constraint(
        op.f("uq_post_agency_id_campaign_id_location_id_platform"),
        "post",
        ["agency_id", "campaign_id", "location_id", "platform"],
    )
    op.create_foreign_key(
        op.f("fk_post_agency_id_campaign_id_campaign"),
        "post",
        "campaign",
        ["agency_id", "campaign_id"],
        ["agency_id", "id"],
        ondelete="CASCADE",
    )
    _status_check(STATUSES)
    # Approval deadlines: pending posts whose time has come, across agencies.
    op.create_index(
        "ix_post_approval_deadline",
        "post",
        ["scheduled_at"],
        postgresql_where="status = 'needs_approval'",
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
        )
    # The dispatcher leases due posts of every agency in one statement, and closes finished
    # campaigns and overdue approvals the same way; the outbox relay marks what it relayed.
    for table, scan in (
        ("post", "post_dispatch"),
        ("campaign", "post_dispatch"),
    ):
        op.execute(
            f"CREATE POLICY named_scan ON {table} FOR ALL "
            f"USING ({SCAN} = '{scan}') WITH CHECK ({SCAN} = '{scan}')"
        )
    op.execute("DROP POLICY named_scan ON outbox_event")
    op.execute(
        "CREATE POLICY named_scan ON outbox_event FOR ALL "
        f"USING ({SCAN} = 'outbox_event') WITH CHECK ({SCAN} = 'outbox_event')"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS named_scan ON post")
    op.drop_index("ix_post_approval_deadline", table_name="post")
    op.execute("DROP POLICY IF EXISTS named_scan ON outbox_event")
    op.execute(
        f"CREATE POLICY named_scan ON outbox_event FOR SELECT USING ({SCAN} = 'outbox_event')"
    )
    op.execute("UPDATE post SET status = 'scheduled' WHERE status = 'unconfirmed'")
    _status_check(OLD_STATUSES)
    op.drop_constraint(op.f("fk_post_agency_id_campaign_id_campaign"), "post", type_="foreignkey")
    op.drop_constraint(
        op.f("uq_post_agency_id_campaign_id_location_id_platform"), "post", type_="unique"
    )
    op.drop_index(
        "ix_post_due",
        table_name="post",
        postgresql_where="status IN ('scheduled', 'queued', 'publishing', 'unconfirmed')",
    )
    op.drop_index(op.f("ix_post_agency_id_campaign_id_status"), table_name="post")
    op.drop_column("post", "decision_comment")
    op.drop_column("post", "decided_at")
    op.drop_column("post", "decided_by")
    op.drop_column("post", "approval_kind")
    op.drop_column("post", "published_at")
    op.drop_column("post", "publish_deadline")
    op.drop_column("post", "publish_started_at")
    op.drop_column("post", "lease_token")
    op.drop_column("post", "due_at")
    op.drop_column("post", "account_id")
    op.drop_column("post", "status_reason")
    op.drop_index(op.f("ix_campaign_agency_id_brand_id_id"), table_name="campaign")
    op.drop_table("campaign")
    op.drop_index("uq_idempotent_request_key", table_name="idempotent_request")
    op.drop_table("idempotent_request")
