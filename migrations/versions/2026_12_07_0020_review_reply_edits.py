"""Review replies can be edited and deleted; reviews name their source as accounts do.

- ``review.reply_action``: what the queued reply work does at the platform (``post``,
  ``edit``, ``delete``); ``reply_external_id``: the platform's id of the reply where it has
  one (a Facebook comment), needed to edit or delete it; ``reply_previous_text``: the reply as
  it stood at the platform while an edit or delete is on its way (restored if it fails).
- ``google`` becomes ``google_business`` in ``review.source``, ``review_source.source`` and
  ``auto_reply_rule.sources`` (the social account's platform name).
- The needs-attention index follows the new rule: a review with a reply on its way or sent is
  answered; only ``none``, ``pending_approval`` and ``failed`` still need attention.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 02:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_SOURCES = "source IN ('google_business', 'facebook', 'yelp')"
OLD_SOURCES = "source IN ('google', 'facebook', 'yelp')"
NEW_ATTENTION = "needs_attention AND reply_status IN ('none', 'pending_approval', 'failed')"
OLD_ATTENTION = "needs_attention AND reply_status <> 'sent'"


def _sources(old: str, new: str, check: str) -> None:
    op.drop_constraint(op.f("ck_review_source_known"), "review", type_="check")
    op.drop_constraint(op.f("ck_review_source_source_known"), "review_source", type_="check")
    names = {"old": old, "new": new}
    op.execute(sa.text("UPDATE review SET source = :new WHERE source = :old").bindparams(**names))
    op.execute(
        sa.text("UPDATE review_source SET source = :new WHERE source = :old").bindparams(**names)
    )
    op.execute(
        sa.text(
            "UPDATE auto_reply_rule SET sources = array_replace(sources, :old, :new) "
            "WHERE CAST(:old AS varchar) = ANY(sources)"
        ).bindparams(**names)
    )
    op.create_check_constraint(op.f("ck_review_source_known"), "review", check)
    op.create_check_constraint(op.f("ck_review_source_source_known"), "review_source", check)


def _attention_index(predicate: str) -> None:
    op.drop_index("ix_review_needs_attention", table_name="review")
    op.create_index(
        "ix_review_needs_attention",
        "review",
        ["agency_id", "location_id", "created_at"],
        unique=False,
        postgresql_where=predicate,
    )


def upgrade() -> None:
    op.add_column(
        "review",
        sa.Column("reply_action", sa.String(length=10), server_default="post", nullable=False),
    )
    op.add_column("review", sa.Column("reply_external_id", sa.String(length=300), nullable=True))
    op.add_column("review", sa.Column("reply_previous_text", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_review_reply_action_known"), "review", "reply_action IN ('post', 'edit', 'delete')"
    )
    _sources("google", "google_business", NEW_SOURCES)
    _attention_index(NEW_ATTENTION)


def downgrade() -> None:
    _attention_index(OLD_ATTENTION)
    _sources("google_business", "google", OLD_SOURCES)
    op.drop_constraint(op.f("ck_review_reply_action_known"), "review", type_="check")
    op.drop_column("review", "reply_previous_text")
    op.drop_column("review", "reply_external_id")
    op.drop_column("review", "reply_action")
