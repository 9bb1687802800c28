"""Billing: the agency's subscription (under row-level security) and the Stripe webhook inbox.

Cross-agency work names itself in ``app.scan``: ``billing`` (finding the agency behind a
Stripe customer, the grace and quantity sweeps) and ``post_dispatch`` (the dispatcher skips
the posts of agencies whose publishing is paused). Both only read; writes happen under the
agency's own tenant.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 17:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
SCAN = "current_setting('app.scan', true)"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "billing_account",
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("plan", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("access", sa.String(length=20), server_default="full", nullable=False),
        sa.Column("publishing_paused", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=100), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Integer(), server_default="0", nullable=False),
        sa.Column("quantity_dirty_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("past_due_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grace_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_method_brand", sa.String(length=40), nullable=True),
        sa.Column("payment_method_last4", sa.String(length=4), nullable=True),
        sa.Column("stripe_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(
            "access IN ('full', 'warning', 'read_only')",
            name=op.f("ck_billing_account_access_known"),
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_billing_account_quantity_not_negative")),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_billing_account")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_billing_account_agency_id")),
    )
    op.create_index(
        "ix_billing_account_stripe_customer_id",
        "billing_account",
        ["stripe_customer_id"],
        unique=False,
    )
    op.create_table(
        "stripe_event",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("agency_id", sa.UUID(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_event")),
    )
    op.create_index(
        "ix_stripe_event_unprocessed",
        "stripe_event",
        ["received_at"],
        unique=False,
        postgresql_where="processed_at IS NULL",
    )
    op.execute("ALTER TABLE billing_account ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE billing_account FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON billing_account "
        f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
    )
    op.execute(
        "CREATE POLICY named_scan ON billing_account FOR SELECT "
        f"USING ({SCAN} IN ('billing', 'post_dispatch'))"
    )
    # The trial sweep finds agencies whose sign-up trial ended and that never subscribed.
    op.execute(f"CREATE POLICY billing_scan ON agency FOR SELECT USING ({SCAN} = 'billing')")
    # The inbox is a record of what Stripe sent: added and marked processed, never deleted.
    op.execute("REVOKE DELETE ON stripe_event FROM chorus_app")


def downgrade() -> None:
    op.execute("DROP POLICY billing_scan ON agency")
    op.drop_index(
        "ix_stripe_event_unprocessed",
        table_name="stripe_event",
        postgresql_where="processed_at IS NULL",
    )
    op.drop_table("stripe_event")
    op.drop_index("ix_billing_account_stripe_customer_id", table_name="billing_account")
    op.drop_table("billing_account")
