"""Stripe webhook inbox: a failed attempt is recorded with when it failed and when the billing
sweep tries the event again (``attempts`` and ``last_error`` already exist). Unprocessed with
``failed_at`` set is what operators see as failed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("stripe_event", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "stripe_event", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("stripe_event", "next_attempt_at")
    op.drop_column("stripe_event", "failed_at")
