"""The brand a person is looking at in the web app's brand screens (issue #16): kept on the
browser's session like its location, checked by the policy on every request.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 14:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("web_session", sa.Column("brand_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("web_session", "brand_id")
