from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.access.schemas import MeOut

PlanCode = Literal["starter", "pro", "enterprise"]


class PlanOut(BaseModel):
    code: str
    name: str
    price_per_location_cents: int
    currency: str
    location_limit: int | None = Field(description="Active locations at most; null: no limit.")
    channels: list[str]
    features: list[str]
    api_rate: str
    trial_days: int


class PaymentMethodOut(BaseModel):
    brand: str | None
    last4: str | None


class BillingOut(BaseModel):
    plan: PlanOut
    status: str = Field(
        description="trialing (the sign-up trial, or Stripe's), active, past_due, unpaid, "
        "canceled, incomplete, trial_ended."
    )
    access: Literal["full", "warning", "read_only"] = Field(
        description="full; warning: a payment failed, everything works until `grace_ends_at`; "
        "read_only: reads only, publishing paused (posts kept), until paid."
    )
    subscribed: bool
    billed_quantity: int = Field(description="Seats Stripe bills (active locations).")
    active_locations: int
    quantity_pending: bool = Field(description="Location changes not yet sent to Stripe.")
    publishing_paused: bool
    cancel_at_period_end: bool
    current_period_end: datetime | None
    trial_ends_at: datetime | None
    grace_ends_at: datetime | None
    retain_until: datetime | None = Field(description="Canceled: data kept until then.")
    payment_method: PaymentMethodOut | None


class SubscribeIn(BaseModel):
    plan: PlanCode
    payment_method: str = Field(
        min_length=3,
        max_length=255,
        pattern=r"^pm_[A-Za-z0-9_]+$",
        description="A Stripe PaymentMethod id, made in the browser by Stripe.js.",
    )


class ChangePlanIn(BaseModel):
    plan: PlanCode


class PaymentMethodIn(BaseModel):
    payment_method: str = Field(min_length=3, max_length=255, pattern=r"^pm_[A-Za-z0-9_]+$")


class InvoiceLineOut(BaseModel):
    description: str | None
    amount: int
    quantity: int | None


class UpcomingInvoiceOut(BaseModel):
    amount_due: int
    currency: str
    period_end: datetime | None
    lines: list[InvoiceLineOut]


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool


class BillingBanner(BaseModel):
    """What the portal shows on every page about billing."""

    show: bool
    level: Literal["none", "info", "warning", "critical"]
    message: str | None
    access: Literal["full", "warning", "read_only"]
    grace_ends_at: datetime | None


class MeWithBilling(MeOut):
    billing: BillingBanner
