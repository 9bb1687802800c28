"""Per-post metrics of Chorus's own published posts: one row per post holding the latest
lifetime numbers the platform gave, upserted on (agency, post) by the daily collection.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
FIELDS = ("impressions", "reach", "engagements", "likes", "comments", "shares", "clicks", "views")


def upgrade() -> None:
    op.create_table(
        "post_metric",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("post_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        *(sa.Column(f, sa.BigInteger(), nullable=True) for f in FIELDS),
        sa.Column(
            "collected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["post.agency_id", "post.id"],
            name=op.f("fk_post_metric_agency_id_post_id_post"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "post_id", name=op.f("pk_post_metric")),
    )
    op.execute("ALTER TABLE post_metric ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE post_metric FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON post_metric "
        f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
    )


def downgrade() -> None:
    op.drop_table("post_metric")
