"""Browser sessions of the web app (issue #15).

A browser's cookie holds an opaque token; the row keeps only its SHA-256 digest and names the
session family (``refresh_token.family_id``) it belongs to, the SAME session the API knows:
the web session lives exactly while that family holds an unrevoked, unexpired token, so
logout, "sign out this session", a password change and removal from the agency end it at
once, and ``GET /v1/auth/sessions`` lists it. The cookie cannot be spent at
``/v1/auth/refresh`` (it is not a refresh token). ``location_id`` is the location the person
is looking at (the header's switcher), checked against their grants on every request.
No agency column: the agency is the family's, so no row-level security here either (read by
digest before any tenant is known, like ``refresh_token``).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_web_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_family_id"), "web_session", ["family_id"], unique=False)
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_session_user_id"), table_name="web_session")
    op.drop_index(op.f("ix_web_session_family_id"), table_name="web_session")
    op.drop_table("web_session")
