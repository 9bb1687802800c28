"""The media housekeeping passes name themselves (``app.scan = 'media_housekeeping'``): they
may list every agency's media and blobs (read only) to find uploads whose processing job was
lost, deleted media past their grace period and blobs no media names; each is then processed
or purged in its own agency's transaction.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 21:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCAN = "current_setting('app.scan', true)"
TABLES = ("media", "media_blob")


def upgrade() -> None:
    for table in TABLES:
        op.execute(
            f"CREATE POLICY named_scan ON {table} FOR SELECT USING ({SCAN} = 'media_housekeeping')"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS named_scan ON {table}")
