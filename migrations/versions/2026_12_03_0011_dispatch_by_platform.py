"""The dispatcher leases per platform (issue #12): what each platform may send next, and how
many posts jobs hold for it now, each read from a small partial index instead of a walk over
every due or future post; and what waits for a lookup (sent, answer unknown).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_post_sendable",
        "post",
        ["platform", "due_at"],
        postgresql_where="status IN ('scheduled', 'queued')",
    )
    op.create_index(
        "ix_post_held",
        "post",
        ["platform", "due_at"],
        postgresql_where="status IN ('queued', 'publishing')",
    )
    op.create_index(
        "ix_post_unsettled",
        "post",
        ["due_at"],
        postgresql_where="status IN ('publishing', 'unconfirmed')",
    )


def downgrade() -> None:
    op.drop_index("ix_post_unsettled", table_name="post")
    op.drop_index("ix_post_held", table_name="post")
    op.drop_index("ix_post_sendable", table_name="post")
