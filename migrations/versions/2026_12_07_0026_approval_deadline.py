"""A campaign's approval deadline (issue #16): how many hours before each post's time its
decision is due, and each waiting post's own deadline (``decide_by``), kept on the post so
that the overdue sweep, the decision and the reminder mails read one column whatever the
location's time zone. Posts waiting today keep their deadline at their time (the column is
empty: the sweep reads ``scheduled_at`` then, as before).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaign",
        sa.Column("approval_deadline_hours", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_campaign_approval_deadline_hours_range"),
        "campaign",
        "approval_deadline_hours BETWEEN 0 AND 336",
    )
    op.add_column("post", sa.Column("decide_by", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_post_decide_by",
        "post",
        ["decide_by"],
        postgresql_where=sa.text("status = 'needs_approval' AND decide_by IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_post_decide_by", table_name="post")
    op.drop_column("post", "decide_by")
    op.drop_constraint(op.f("ck_campaign_approval_deadline_hours_range"), "campaign", type_="check")
    op.drop_column("campaign", "approval_deadline_hours")
