"""Access control: invitations, API keys, the audit log and the outbound mail table (RLS).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 14:29:56.876919+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("api_key", "audit_event", "invitation", "outbound_email")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"


def _enable_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
    )


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("scope_type", sa.String(length=20), nullable=False),
        sa.Column("scope_id", sa.UUID(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(scope_type = 'agency') = (scope_id IS NULL)",
            name=op.f("ck_api_key_scope_id_matches_scope_type"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_api_key_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("agency_id", "prefix", name=op.f("uq_api_key_agency_id_prefix")),
    )
    op.create_index(op.f("ix_api_key_prefix"), "api_key", ["prefix"], unique=False)
    op.create_table(
        "audit_event",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.UUID(), nullable=True),
        sa.Column(
            "changes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_audit_event_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_audit_event")),
    )
    op.create_index(
        op.f("ix_audit_event_agency_id_actor_id"),
        "audit_event",
        ["agency_id", "actor_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_audit_event_agency_id_object_type_object_id"),
        "audit_event",
        ["agency_id", "object_type", "object_id"],
        unique=False,
    )
    op.create_table(
        "invitation",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("scope_type", sa.String(length=20), nullable=False),
        sa.Column("scope_id", sa.UUID(), nullable=True),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("invited_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_user_id", sa.UUID(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(scope_type = 'agency') = (scope_id IS NULL)",
            name=op.f("ck_invitation_scope_id_matches_scope_type"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_invitation_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_invitation")),
    )
    op.create_index(
        op.f("ix_invitation_agency_id_email"), "invitation", ["agency_id", "email"], unique=False
    )
    op.create_table(
        "outbound_email",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_outbound_email_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_outbound_email")),
    )

    for table in TENANT_TABLES:
        _enable_rls(table)
    # An API key is found by its visible prefix before its agency is known.
    op.execute(
        "CREATE POLICY lookup_by_prefix ON api_key FOR SELECT "
        "USING (prefix = NULLIF(current_setting('app.api_key_prefix', true), ''))"
    )
    # A user may see the names of the agencies they belong to (the agency switcher).
    op.execute(
        "CREATE POLICY member_agencies ON agency FOR SELECT USING (EXISTS ("
        "SELECT 1 FROM membership m WHERE m.agency_id = agency.id "
        "AND m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid))"
    )
    # The audit log is append-only for the application.
    op.execute("REVOKE UPDATE, DELETE ON audit_event FROM chorus_app")


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS member_agencies ON agency")
    op.drop_table("outbound_email")
    op.drop_index(op.f("ix_invitation_agency_id_email"), table_name="invitation")
    op.drop_table("invitation")
    op.drop_index(op.f("ix_audit_event_agency_id_object_type_object_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_agency_id_actor_id"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index(op.f("ix_api_key_prefix"), table_name="api_key")
    op.drop_table("api_key")
