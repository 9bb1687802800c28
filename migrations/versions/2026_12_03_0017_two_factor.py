"""Two-factor authentication: TOTP authenticators, recovery codes, the agency's policy.

``user_two_factor`` and ``two_factor_recovery_code`` are global like ``user_account`` (one
person, many agencies), read only by user id. ``agency_security`` is a tenant table under
row-level security like the others.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "user_two_factor",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_two_factor_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_two_factor")),
    )
    op.create_table(
        "two_factor_recovery_code",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_two_factor_recovery_code_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "code_hash", name=op.f("pk_two_factor_recovery_code")),
    )
    op.create_table(
        "agency_security",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("require_two_factor", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_agency_security_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_security")),
    )
    op.execute("ALTER TABLE agency_security ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE agency_security FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON agency_security "
        f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
    )


def downgrade() -> None:
    op.drop_table("agency_security")
    op.drop_table("two_factor_recovery_code")
    op.drop_table("user_two_factor")
