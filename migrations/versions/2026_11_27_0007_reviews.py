"""Reviews (collected per source, with sentiment and reply delivery), review sources with
their collection cursor and schedule, per-brand review settings and auto-reply rules.

The collection scan names itself (``app.scan = 'review_collect'``): it may read and update the
sources of every agency, read the ids of replies due to be sent, and read connected social
accounts to start collecting from each new Google Business Profile or Facebook page. Everything
else about a review happens in its own tenant.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 17:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("review_settings", "auto_reply_rule", "review_source", "review")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
SCAN = "current_setting('app.scan', true)"


def upgrade() -> None:
    op.create_table(
        "review_settings",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("negative_rating", sa.SmallInteger(), server_default="2", nullable=False),
        sa.Column("negative_sentiment", sa.Boolean(), server_default="true", nullable=False),
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
            "negative_rating BETWEEN 0 AND 5", name=op.f("ck_review_settings_negative_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "brand_id"],
            ["brand.agency_id", "brand.id"],
            name=op.f("fk_review_settings_agency_id_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_review_settings")),
        sa.UniqueConstraint(
            "agency_id", "brand_id", name=op.f("uq_review_settings_agency_id_brand_id")
        ),
    )
    op.create_table(
        "auto_reply_rule",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "sources", postgresql.ARRAY(sa.String(length=20)), server_default="{}", nullable=False
        ),
        sa.Column("min_rating", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("max_rating", sa.SmallInteger(), server_default="5", nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
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
            "min_rating BETWEEN 1 AND 5 AND max_rating BETWEEN 1 AND 5 AND min_rating <= max_rating",
            name=op.f("ck_auto_reply_rule_rating_range"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "brand_id"],
            ["brand.agency_id", "brand.id"],
            name=op.f("fk_auto_reply_rule_agency_id_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "group_id"],
            ["location_group.agency_id", "location_group.id"],
            name=op.f("fk_auto_reply_rule_agency_id_group_id_location_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_auto_reply_rule")),
    )
    op.create_index(
        op.f("ix_auto_reply_rule_agency_id_brand_id_position"),
        "auto_reply_rule",
        ["agency_id", "brand_id", "position"],
        unique=False,
    )
    op.create_table(
        "review_source",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=True),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stagger_s", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_collect_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attached_by", sa.UUID(), nullable=True),
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
            "(source = 'yelp') = (account_id IS NULL)",
            name=op.f("ck_review_source_social_sources_have_account"),
        ),
        sa.CheckConstraint(
            "source IN ('google', 'facebook', 'yelp')", name=op.f("ck_review_source_source_known")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'needs_reconnect', 'disabled')",
            name=op.f("ck_review_source_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            name=op.f("fk_review_source_agency_id_location_id_location"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_review_source")),
        sa.UniqueConstraint(
            "agency_id",
            "location_id",
            "source",
            name=op.f("uq_review_source_agency_id_location_id_source"),
        ),
    )
    op.create_index(
        op.f("ix_review_source_agency_id_account_id"),
        "review_source",
        ["agency_id", "account_id"],
        unique=False,
    )
    op.create_index(
        "ix_review_source_due",
        "review_source",
        ["next_collect_at"],
        unique=False,
        postgresql_where="status = 'active'",
    )
    op.create_table(
        "review",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column("source_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("recommends", sa.Boolean(), nullable=True),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("author", sa.String(length=300), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "collected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("sentiment_label", sa.String(length=10), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("attention_reason", sa.String(length=200), nullable=True),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("reply_status", sa.String(length=20), server_default="none", nullable=False),
        sa.Column("reply_origin", sa.String(length=10), nullable=True),
        sa.Column("reply_by", sa.UUID(), nullable=True),
        sa.Column("reply_rule_id", sa.UUID(), nullable=True),
        sa.Column("reply_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reply_error", sa.Text(), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "reply_status IN ('none', 'pending_approval', 'queued', 'sending', 'unconfirmed', 'sent', 'failed')",
            name=op.f("ck_review_reply_status_known"),
        ),
        sa.CheckConstraint(
            "sentiment_label IN ('positive', 'neutral', 'negative')",
            name=op.f("ck_review_sentiment_known"),
        ),
        sa.CheckConstraint(
            "source IN ('google', 'facebook', 'yelp')", name=op.f("ck_review_source_known")
        ),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_review_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            name=op.f("fk_review_agency_id_location_id_location"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "source_id"],
            ["review_source.agency_id", "review_source.id"],
            name=op.f("fk_review_agency_id_source_id_review_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_review")),
        sa.UniqueConstraint(
            "agency_id",
            "source",
            "external_id",
            name=op.f("uq_review_agency_id_source_external_id"),
        ),
    )
    op.create_index(
        op.f("ix_review_agency_id_brand_id_created_at"),
        "review",
        ["agency_id", "brand_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_review_agency_id_location_id_created_at"),
        "review",
        ["agency_id", "location_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_review_needs_attention",
        "review",
        ["agency_id", "location_id", "created_at"],
        unique=False,
        postgresql_where="needs_attention AND reply_status <> 'sent'",
    )
    op.create_index(
        "ix_review_reply_due",
        "review",
        ["reply_due_at"],
        unique=False,
        postgresql_where="reply_status IN ('queued', 'sending', 'unconfirmed')",
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
        )
    op.execute(
        "CREATE POLICY named_scan ON review_source FOR ALL "
        f"USING ({SCAN} = 'review_collect') WITH CHECK ({SCAN} = 'review_collect')"
    )
    op.execute(f"CREATE POLICY named_scan ON review FOR SELECT USING ({SCAN} = 'review_collect')")
    op.execute(
        "CREATE POLICY named_scan_reviews ON social_account FOR SELECT "
        f"USING ({SCAN} = 'review_collect')"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS named_scan_reviews ON social_account")
    op.drop_index(
        "ix_review_reply_due",
        table_name="review",
        postgresql_where="reply_status IN ('queued', 'sending', 'unconfirmed')",
    )
    op.drop_index(
        "ix_review_needs_attention",
        table_name="review",
        postgresql_where="needs_attention AND reply_status <> 'sent'",
    )
    op.drop_index(op.f("ix_review_agency_id_location_id_created_at"), table_name="review")
    op.drop_index(op.f("ix_review_agency_id_brand_id_created_at"), table_name="review")
    op.drop_table("review")
    op.drop_index(
        "ix_review_source_due", table_name="review_source", postgresql_where="status = 'active'"
    )
    op.drop_index(op.f("ix_review_source_agency_id_account_id"), table_name="review_source")
    op.drop_table("review_source")
    op.drop_index(
        op.f("ix_auto_reply_rule_agency_id_brand_id_position"), table_name="auto_reply_rule"
    )
    op.drop_table("auto_reply_rule")
    op.drop_table("review_settings")
