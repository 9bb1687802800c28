"""Social accounts (sealed tokens) and the event outbox, under row-level security.

Background scans that must see every agency (the token refresher, the re-encrypt command)
name themselves in ``app.scan``; a policy per table lets exactly that scan read it. They read
ids only, then work on each row under that row's own tenant.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:49:42.324426+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("outbox_event", "social_account")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
SCAN = "current_setting('app.scan', true)"


def upgrade() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=True),
        sa.Column("location_id", sa.UUID(), nullable=True),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=True),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_outbox_event")),
    )
    op.create_index(
        op.f("ix_outbox_event_agency_id_location_id_id"),
        "outbox_event",
        ["agency_id", "location_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_outbox_event_unrelayed",
        "outbox_event",
        ["id"],
        unique=False,
        postgresql_where="relayed_at IS NULL",
    )
    op.create_table(
        "social_account",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "scopes", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "extra", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_key_id", sa.String(length=40), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_refresh_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("connected_by", sa.UUID(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
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
            "status = 'revoked' OR access_token IS NOT NULL",
            name=op.f("ck_social_account_connected_has_token"),
        ),
        sa.CheckConstraint(
            "status IN ('connected', 'needs_reconnect', 'revoked')",
            name=op.f("ck_social_account_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            name=op.f("fk_social_account_agency_id_location_id_location"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_social_account")),
        sa.UniqueConstraint(
            "agency_id",
            "location_id",
            "platform",
            name=op.f("uq_social_account_agency_id_location_id_platform"),
        ),
    )
    op.create_index(
        op.f("ix_social_account_agency_id_brand_id_id"),
        "social_account",
        ["agency_id", "brand_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_social_account_refresh_due",
        "social_account",
        ["token_expires_at"],
        unique=False,
        postgresql_where="status = 'connected' AND refresh_token IS NOT NULL",
    )

    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
        )
    op.execute(
        f"CREATE POLICY named_scan ON social_account FOR SELECT USING ({SCAN} = 'social_account')"
    )
    op.execute(
        f"CREATE POLICY named_scan ON outbox_event FOR SELECT USING ({SCAN} = 'outbox_event')"
    )
    # Events are facts: the application adds them and marks them relayed, never deletes.
    op.execute("REVOKE DELETE ON outbox_event FROM chorus_app")


def downgrade() -> None:
    op.drop_index(
        "ix_social_account_refresh_due",
        table_name="social_account",
        postgresql_where="status = 'connected' AND refresh_token IS NOT NULL",
    )
    op.drop_index(op.f("ix_social_account_agency_id_brand_id_id"), table_name="social_account")
    op.drop_table("social_account")
    op.drop_index(
        "ix_outbox_event_unrelayed",
        table_name="outbox_event",
        postgresql_where="relayed_at IS NULL",
    )
    op.drop_index(op.f("ix_outbox_event_agency_id_location_id_id"), table_name="outbox_event")
    op.drop_table("outbox_event")
