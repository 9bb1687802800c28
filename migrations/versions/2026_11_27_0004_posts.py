"""Posts (one location x one platform) and their status history, under row-level security.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 15:46:20.344673+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("post", "post_status_change")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "post",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=True),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column(
            "slot_values",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column(
            "media", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("permalink", sa.String(length=2000), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
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
            "status IN ('draft', 'needs_approval', 'approved', 'scheduled', 'queued', 'publishing', 'published', 'failed', 'cancelled', 'skipped')",
            name=op.f("ck_post_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            name=op.f("fk_post_agency_id_location_id_location"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "template_id"],
            ["template.agency_id", "template.id"],
            name=op.f("fk_post_agency_id_template_id_template"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_post")),
    )
    op.create_index(
        op.f("ix_post_agency_id_brand_id_status"),
        "post",
        ["agency_id", "brand_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_post_agency_id_location_id_id"),
        "post",
        ["agency_id", "location_id", "id"],
        unique=False,
    )
    op.create_table(
        "post_status_change",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("post_id", sa.UUID(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["post.agency_id", "post.id"],
            name=op.f("fk_post_status_change_agency_id_post_id_post"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_post_status_change")),
    )
    op.create_index(
        op.f("ix_post_status_change_agency_id_post_id_id"),
        "post_status_change",
        ["agency_id", "post_id", "id"],
        unique=False,
    )

    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
        )
    # A post's history is append-only for the application.
    op.execute("REVOKE UPDATE, DELETE ON post_status_change FROM chorus_app")


def downgrade() -> None:
    op.drop_index(
        op.f("ix_post_status_change_agency_id_post_id_id"), table_name="post_status_change"
    )
    op.drop_table("post_status_change")
    op.drop_index(op.f("ix_post_agency_id_location_id_id"), table_name="post")
    op.drop_index(op.f("ix_post_agency_id_brand_id_status"), table_name="post")
    op.drop_table("post")
