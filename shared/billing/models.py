from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin, tenant_table

ACCESS_LEVELS = ("full", "warning", "read_only")
"""full: everything the plan allows; warning: payment failed, inside the grace period (a
banner, events); read_only: reads only, publishing paused, until paid."""


class BillingAccount(TenantMixin, TimestampMixin, Base):
    """One per agency, created when the agency first subscribes (or its trial ends). No row:
    the agency is in its sign-up trial. The subscription fields mirror Stripe as last read
    from Stripe itself (never from an event's payload, so event order does not matter)."""

    __tablename__ = tenant_table("billing_account")
    __table_args__ = (
        UniqueConstraint("agency_id"),
        # Webhooks name a Stripe customer: the agency behind it is found with a named scan.
        Index("ix_billing_account_stripe_customer_id", "stripe_customer_id"),
        CheckConstraint(
            "access IN (" + ", ".join(f"'{a}'" for a in ACCESS_LEVELS) + ")",
            name="access_known",
        ),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    plan: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(30))
    """Stripe's subscription status (trialing, active, past_due, canceled, unpaid,
    incomplete, incomplete_expired), ``trial_ended`` or ``none`` (never subscribed)."""
    access: Mapped[str] = mapped_column(String(20), default="full", server_default="full")
    publishing_paused: Mapped[bool] = mapped_column(default=False, server_default="false")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(default=0, server_default="0")
    """Seats Stripe bills: the active locations when last synchronized."""
    quantity_dirty_at: Mapped[datetime | None]
    """Set when locations changed; the debounced sync clears it."""
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default="false")
    current_period_end: Mapped[datetime | None]
    trial_ends_at: Mapped[datetime | None]
    past_due_since: Mapped[datetime | None]
    grace_ends_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    retain_until: Mapped[datetime | None]
    payment_method_brand: Mapped[str | None] = mapped_column(String(40))
    payment_method_last4: Mapped[str | None] = mapped_column(String(4))
    stripe_synced_at: Mapped[datetime | None]


class StripeEvent(Base):
    """The webhook inbox: one row per Stripe event id. Not a tenant table: an event arrives
    before Chorus knows its agency. ``processed_at`` is set in the transaction that applies
    the event's effect, so a duplicate (or a second job) finds it done.

    An attempt that fails is recorded in a transaction of its own: ``attempts``,
    ``last_error`` (the reason, for operators), ``failed_at``, and ``next_attempt_at``, when
    the billing sweep hands the event to a job again. Unprocessed with ``failed_at`` set is
    "failed"; an event is never given up (Stripe's state is re-read, so a late success is
    always right)."""

    __tablename__ = "stripe_event"
    __table_args__ = (
        Index(
            "ix_stripe_event_unprocessed", "received_at", postgresql_where="processed_at IS NULL"
        ),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    agency_id: Mapped[uuid.UUID | None]
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
