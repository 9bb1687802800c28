"""The outbox relay backs off an event whose consumer fails.

``relay_attempts`` counts the failed deliveries, ``relay_after`` is the earliest time the
next one is tried, ``relay_error`` says what the last one hit. Without them a failing
agency's oldest events came back at the head of every pass and, once they filled the pass's
limit, held every other agency's events.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox_event",
        sa.Column("relay_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("outbox_event", sa.Column("relay_after", sa.DateTime(timezone=True)))
    op.add_column("outbox_event", sa.Column("relay_error", sa.Text()))


def downgrade() -> None:
    op.drop_column("outbox_event", "relay_error")
    op.drop_column("outbox_event", "relay_after")
    op.drop_column("outbox_event", "relay_attempts")
