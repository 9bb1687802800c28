"""Foundation: agencies, identity, brands, locations, groups; the chorus_app role and RLS.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 14:01:56.713163+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "chorus_app"
TENANT_TABLES = {
    "agency": "id",
    "brand": "agency_id",
    "membership": "agency_id",
    "location": "agency_id",
    "location_group": "agency_id",
    "location_group_member": "agency_id",
}
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"


def _create_app_role() -> None:
    """The role the application logs in as: owns nothing, cannot bypass RLS. Roles are
    cluster-wide, so it is created only when missing and never dropped by a downgrade."""
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database of this server created it at the same moment
        END
        $$
        """
    )
    password = (
        op.get_context().config.attributes.get("app_role_password")
        if op.get_context().config
        else None
    )
    if password:
        op.execute(
            sa.text("SELECT set_config('chorus.app_role_password', :pw, true)").bindparams(
                pw=password
            )
        )
        # Roles belong to the server, not to one database: two databases of one server
        # migrated at once (two test runs) can update the role's row at the same instant,
        # which PostgreSQL refuses with "tuple concurrently updated" (XX000). Try again.
        op.execute(
            f"""
            DO $$
            BEGIN
                FOR attempt IN 1..20 LOOP
                    BEGIN
                        EXECUTE format('ALTER ROLE {APP_ROLE} PASSWORD %L',
                                       current_setting('chorus.app_role_password'));
                        RETURN;
                    EXCEPTION WHEN internal_error THEN
                        IF attempt = 20 THEN RAISE; END IF;
                        PERFORM pg_sleep(0.05 * attempt);
                    END;
                END LOOP;
            END
            $$
            """
        )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {APP_ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )


def _enable_rls(table: str, column: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = {CURRENT_AGENCY}) WITH CHECK ({column} = {CURRENT_AGENCY})"
    )


def upgrade() -> None:
    op.create_table(
        "agency",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "brand",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
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
            ["agency_id"], ["agency.id"], name=op.f("fk_brand_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_brand")),
        sa.UniqueConstraint("agency_id", "name", name=op.f("uq_brand_agency_id_name")),
    )
    op.create_table(
        "membership",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("scope_type", sa.String(length=20), nullable=False),
        sa.Column("scope_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(scope_type = 'agency') = (scope_id IS NULL)",
            name=op.f("ck_membership_scope_id_matches_scope_type"),
        ),
        sa.CheckConstraint(
            "scope_type IN ('agency', 'brand', 'location')",
            name=op.f("ck_membership_scope_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_membership_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_membership_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_membership")),
        sa.UniqueConstraint(
            "agency_id",
            "user_id",
            "scope_type",
            "scope_id",
            name=op.f("uq_membership_agency_id_user_id_scope_type_scope_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_membership_user_id"), "membership", ["user_id"], unique=False)
    op.create_table(
        "refresh_token",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_refresh_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash")),
    )
    op.create_index(
        op.f("ix_refresh_token_user_id_family_id"),
        "refresh_token",
        ["user_id", "family_id"],
        unique=False,
    )
    op.create_table(
        "location",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("brand_id", sa.UUID(), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address_line1", sa.String(length=200), server_default="", nullable=False),
        sa.Column("address_line2", sa.String(length=200), server_default="", nullable=False),
        sa.Column("city", sa.String(length=100), server_default="", nullable=False),
        sa.Column("region", sa.String(length=100), server_default="", nullable=False),
        sa.Column("postal_code", sa.String(length=20), server_default="", nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), server_default="", nullable=False),
        sa.Column("website", sa.String(length=500), server_default="", nullable=False),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
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
            "status IN ('active', 'paused', 'archived')", name=op.f("ck_location_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "brand_id"],
            ["brand.agency_id", "brand.id"],
            name=op.f("fk_location_agency_id_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_location")),
        sa.UniqueConstraint(
            "agency_id",
            "brand_id",
            "external_ref",
            name=op.f("uq_location_agency_id_brand_id_external_ref"),
        ),
    )
    op.create_index(
        op.f("ix_location_agency_id_brand_id_id"),
        "location",
        ["agency_id", "brand_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_location_agency_id_brand_id_name_id"),
        "location",
        ["agency_id", "brand_id", "name", "id"],
        unique=False,
    )
    op.create_table(
        "location_group",
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
            name=op.f("fk_location_group_agency_id_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_location_group")),
        sa.UniqueConstraint(
            "agency_id", "brand_id", "name", name=op.f("uq_location_group_agency_id_brand_id_name")
        ),
    )
    op.create_table(
        "location_group_member",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("group_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "group_id"],
            ["location_group.agency_id", "location_group.id"],
            name=op.f("fk_location_group_member_agency_id_group_id_location_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            name=op.f("fk_location_group_member_agency_id_location_id_location"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "agency_id", "group_id", "location_id", name=op.f("pk_location_group_member")
        ),
    )
    op.create_index(
        op.f("ix_location_group_member_agency_id_location_id"),
        "location_group_member",
        ["agency_id", "location_id"],
        unique=False,
    )

    for table, column in TENANT_TABLES.items():
        _enable_rls(table, column)
    # A user signing in must find their memberships before any agency is chosen.
    op.execute(
        f"CREATE POLICY own_memberships ON membership FOR SELECT USING (user_id = {CURRENT_USER})"
    )
    _create_app_role()


def downgrade() -> None:
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    op.drop_index(
        op.f("ix_location_group_member_agency_id_location_id"), table_name="location_group_member"
    )
    op.drop_table("location_group_member")
    op.drop_table("location_group")
    op.drop_index(op.f("ix_location_agency_id_brand_id_name_id"), table_name="location")
    op.drop_index(op.f("ix_location_agency_id_brand_id_id"), table_name="location")
    op.drop_table("location")
    op.drop_index(op.f("ix_refresh_token_user_id_family_id"), table_name="refresh_token")
    op.drop_table("refresh_token")
    op.drop_index(op.f("ix_membership_user_id"), table_name="membership")
    op.drop_table("membership")
    op.drop_table("brand")
    op.drop_table("user_account")
    op.drop_table("agency")
