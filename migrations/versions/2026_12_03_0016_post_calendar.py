"""The calendar (issue #13): a brand's posts by time, from one index led by the tenant.

``GET /v1/posts?brand_id=…&from=…&to=…`` orders a brand's posts by ``scheduled_at`` (then
id, the keyset) and counts them by status over the same range; this index answers both with
a range scan instead of sorting every post of the brand.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 20:40:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_post_agency_id_brand_id_scheduled_at_id",
        "post",
        ["agency_id", "brand_id", "scheduled_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_post_agency_id_brand_id_scheduled_at_id", table_name="post")
