"""The expiry sweep of resumable media uploads names itself (``app.scan =
'media_upload_expiry'``): it may list every agency's uploads (read only); it then aborts each
expired one in that upload's own tenant.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 21:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCAN = "current_setting('app.scan', true)"


def upgrade() -> None:
    op.execute(
        f"CREATE POLICY named_scan ON media_upload FOR SELECT USING ({SCAN} = 'media_upload_expiry')"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS named_scan ON media_upload")
