"""A person's language for the web app (issue #15): ``en``, ``el``, or NULL for the
browser's ``Accept-Language``.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user_account", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("user_account", "language")
