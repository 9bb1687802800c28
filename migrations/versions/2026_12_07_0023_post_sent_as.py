"""Posts remember which platform account their latest attempt was sent as.

``post.sent_as`` is the social account's id at the platform (``social_account.external_id``)
when the attempt started. A post whose answer was lost is looked up later through the
location's account; if that account has meanwhile been reconnected to another platform
account, "not found there" proves nothing about the old one, and sending again could post it
twice. The publisher compares the two and stops instead.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 06:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("post", sa.Column("sent_as", sa.String(length=200)))


def downgrade() -> None:
    op.drop_column("post", "sent_as")
