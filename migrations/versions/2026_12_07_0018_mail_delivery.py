"""Real mail delivery: the outbox row records its attempts, its last error, when it may be
tried again and when it failed for good, so a transient SMTP failure is retried with back-off
and a lost job is found again by the mail sweep.

The sweep names itself (``app.scan = 'mail_sweep'``): it may read the mail of every agency
and move a due mail's ``next_attempt_at`` on as it hands the mail to a delivery job, which
then works in the mail's own tenant.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 02:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCAN = "current_setting('app.scan', true)"
DUE = "sent_at IS NULL AND failed_at IS NULL"


def upgrade() -> None:
    op.add_column(
        "outbound_email",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("outbound_email", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column(
        "outbound_email",
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column(
        "outbound_email", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_outbound_email_due",
        "outbound_email",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=DUE,
    )
    op.execute(
        "CREATE POLICY named_scan ON outbound_email FOR ALL "
        f"USING ({SCAN} = 'mail_sweep') WITH CHECK ({SCAN} = 'mail_sweep')"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS named_scan ON outbound_email")
    op.drop_index("ix_outbound_email_due", table_name="outbound_email", postgresql_where=DUE)
    op.drop_column("outbound_email", "failed_at")
    op.drop_column("outbound_email", "next_attempt_at")
    op.drop_column("outbound_email", "last_error")
    op.drop_column("outbound_email", "attempts")
