"""Sessions: a partial index of the live refresh tokens by family.

Every request made with an access token asks whether its session (the ``sid`` claim, a
refresh-token family) still has an unrevoked token. The index holds only live rows, so the
answer is one index probe however many times the family was rotated, and revoked families
(most of the table over time) cost nothing.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 20:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_refresh_token_live_family",
        "refresh_token",
        ["family_id"],
        unique=False,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_refresh_token_live_family", table_name="refresh_token")
