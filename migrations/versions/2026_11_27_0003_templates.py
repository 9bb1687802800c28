"""Templates (versioned) and brand rules, under row-level security.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 15:06:34.001718+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("brand_rules", "template", "template_version")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "brand_rules",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("allowed_platforms", postgresql.ARRAY(sa.String(length=40)), nullable=True),
        sa.Column("banned_words", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "required_hashtags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("required_disclaimer", sa.Text(), server_default="", nullable=False),
        sa.Column("allowed_link_domains", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("max_hashtags", sa.Integer(), nullable=True),
        sa.Column(
            "location_edits_need_approval", sa.Boolean(), server_default="false", nullable=False
        ),
        sa.Column(
            "platform_overrides",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
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
        sa.ForeignKeyConstraint(
            ["agency_id", "brand_id"],
            ["brand.agency_id", "brand.id"],
            name=op.f("fk_brand_rules_agency_id_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_brand_rules")),
        sa.UniqueConstraint(
            "agency_id", "brand_id", name=op.f("uq_brand_rules_agency_id_brand_id")
        ),
    )
    op.create_table(
        "template",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), server_default="", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["agency_id", "brand_id"],
            ["brand.agency_id", "brand.id"],
            name=op.f("fk_template_agency_id_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_template")),
        sa.UniqueConstraint(
            "agency_id", "brand_id", "name", name=op.f("uq_template_agency_id_brand_id_name")
        ),
    )
    op.create_table(
        "template_version",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("bodies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "slots", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "media", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "titles", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
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
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'published')", name=op.f("ck_template_version_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "template_id"],
            ["template.agency_id", "template.id"],
            name=op.f("fk_template_version_agency_id_template_id_template"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_template_version")),
        sa.UniqueConstraint(
            "agency_id",
            "template_id",
            "version",
            name=op.f("uq_template_version_agency_id_template_id_version"),
        ),
    )
    op.create_index(
        op.f("ix_template_version_agency_id_template_id_version"),
        "template_version",
        ["agency_id", "template_id", "version"],
        unique=False,
    )

    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
        )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_template_version_agency_id_template_id_version"), table_name="template_version"
    )
    op.drop_table("template_version")
    op.drop_table("template")
    op.drop_table("brand_rules")
