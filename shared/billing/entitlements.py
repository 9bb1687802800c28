"""The one entitlement check every edge asks: what the agency's plan allows, and whether the
agency may write at all (read-only after the grace period of a failed payment, or once
canceled). Cheap: one primary-key read of ``billing_account`` per request."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from limits import parse
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.billing.errors import PaymentRequired
from shared.billing.models import BillingAccount
from shared.billing.plans import PLANS, Feature, Plan, get_plan, plan_with
from shared.config import Settings, get_settings
from shared.db.engine import DriverQuery
from shared.ratelimit import Limit

UPGRADE_HOW = "an owner can change the plan with POST /v1/billing/subscription/plan"
SUBSCRIBE_HOW = (
    "an owner can subscribe or pay with POST /v1/billing/subscription or "
    "PUT /v1/billing/payment-method"
)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where the agency stands: its plan (or trial) and what it may do now."""

    plan: Plan
    status: str
    access: str
    subscribed: bool
    grace_ends_at: datetime | None = None
    trial_ends_at: datetime | None = None

    @property
    def read_only(self) -> bool:
        return self.access == "read_only"

    @property
    def plan_label(self) -> str:
        return f"{self.plan.name} trial" if not self.subscribed else self.plan.name


_STANDING = DriverQuery(
    select(  # type: ignore[arg-type]
        BillingAccount.plan,
        BillingAccount.status,
        BillingAccount.access,
        BillingAccount.stripe_subscription_id,
        BillingAccount.grace_ends_at,
        BillingAccount.trial_ends_at,
    ).where(BillingAccount.agency_id == bindparam("agency_id"))
)
"""Asked on every API request: compiled once, run on the driver (see ``DriverQuery``)."""


def trial_standing(settings: Settings | None = None) -> Standing:
    settings = settings or get_settings()
    return Standing(
        plan=get_plan(settings.billing_trial_plan),
        status="trialing",
        access="full",
        subscribed=False,
    )


async def standing(
    session: AsyncSession, settings: Settings | None, agency_id: uuid.UUID
) -> Standing:
    """The agency's standing; no billing row yet means its sign-up trial."""
    settings = settings or get_settings()
    rows = await _STANDING.fetch(session, {"agency_id": agency_id})
    if not rows:
        return trial_standing(settings)
    row = rows[0]
    return Standing(
        plan=PLANS.get(row["plan"]) or get_plan(settings.billing_trial_plan),
        status=row["status"],
        access=row["access"],
        subscribed=row["stripe_subscription_id"] is not None,
        grace_ends_at=row["grace_ends_at"],
        trial_ends_at=row["trial_ends_at"],
    )


def require_writable(current: Standing) -> None:
    if not current.read_only:
        return
    if current.status == "trial_ended":
        why = "the trial has ended"
    elif current.status in ("canceled", "incomplete_expired"):
        why = "the subscription is canceled (data is kept, read-only, for the retention period)"
    else:
        why = "a payment failed and the grace period is over"
    raise PaymentRequired(
        f"this agency is read-only because {why}: reads work, changes and publishing are "
        f"paused until paid; {SUBSCRIBE_HOW}",
        code="agency_read_only",
        extra={"plan": current.plan.code, "billing_status": current.status},
    )


def _feature_error(current: Standing, feature: Feature) -> PaymentRequired:
    upgrade = plan_with(feature=feature)
    to = f" (included from {upgrade.name})" if upgrade else ""
    return PaymentRequired(
        f"the {current.plan_label} plan does not include {feature.value.replace('_', ' ')}"
        f"{to}; {UPGRADE_HOW}",
        code="plan_feature_missing",
        extra={
            "plan": current.plan.code,
            "feature": feature.value,
            "upgrade_to": upgrade.code if upgrade else None,
        },
    )


def require_plan_feature(current: Standing, feature: Feature) -> None:
    if feature not in current.plan.features:
        raise _feature_error(current, feature)


async def require_feature(
    session: AsyncSession, settings: Settings | None, agency_id: uuid.UUID, feature: Feature
) -> None:
    current = await standing(session, settings, agency_id)
    if feature not in current.plan.features:
        raise _feature_error(current, feature)


async def require_channels(
    session: AsyncSession, settings: Settings | None, agency_id: uuid.UUID, channels: Iterable[str]
) -> None:
    current = await standing(session, settings, agency_id)
    missing = sorted(set(channels) - current.plan.channels)
    if missing:
        raise PaymentRequired(
            f"the {current.plan_label} plan does not include the channels "
            f"{', '.join(missing)} (it has {', '.join(sorted(current.plan.channels))}); "
            f"{UPGRADE_HOW}",
            code="plan_channel_missing",
            extra={"plan": current.plan.code, "channels": missing, "upgrade_to": "pro"},
        )


_ACTIVE = text("SELECT count(*) FROM location WHERE agency_id = :agency_id AND status = 'active'")


async def active_locations(session: AsyncSession, agency_id: uuid.UUID) -> int:
    return int((await session.execute(_ACTIVE, {"agency_id": agency_id})).scalar_one())


def location_limit_error(current: Standing, plan: Plan, active: int) -> PaymentRequired:
    upgrade = plan_with(locations=active)
    to = f", {upgrade.name} allows {upgrade.describe_limit()}" if upgrade else ""
    return PaymentRequired(
        f"the {plan.name}{'' if current.subscribed else ' trial'} plan allows "
        f"{plan.describe_limit()} active locations and this would make {active}: pause or "
        f"archive locations, or upgrade{to}; {UPGRADE_HOW}",
        code="plan_location_limit",
        extra={
            "plan": plan.code,
            "location_limit": plan.location_limit,
            "active_locations": active,
            "upgrade_to": upgrade.code if upgrade else None,
        },
    )


_DIRTY = text(
    "UPDATE billing_account SET quantity_dirty_at = coalesce(quantity_dirty_at, now())"
    " WHERE agency_id = :agency_id AND stripe_subscription_id IS NOT NULL"
)


async def locations_changed(
    session: AsyncSession,
    settings: Settings | None,
    agency_id: uuid.UUID,
    *,
    active_before: int | None = None,
    activated: bool = False,
) -> None:
    """After locations were created, activated, paused, archived or deleted (flushed): refuses
    a change that takes the active locations over the plan's limit (the transaction rolls
    back), and marks the billed quantity for the debounced sync with Stripe.

    ``activated``: one location was just made active. ``active_before``: the count before a
    bulk change (an import); it is over the limit only if the count grew past it."""
    if activated or active_before is not None:
        current = await standing(session, settings, agency_id)
        if current.plan.location_limit is not None:
            now = await active_locations(session, agency_id)
            grew = activated or (active_before is not None and now > active_before)
            if grew and now > current.plan.location_limit:
                raise location_limit_error(current, current.plan, now)
    await session.execute(_DIRTY, {"agency_id": agency_id})


def request_limit(installation_rate: str, current: Standing) -> Limit:
    """The agency's API rate: its plan's, never above what the installation allows; before
    subscribing (the sign-up trial), the installation's own."""
    plan_code = current.plan.code if current.subscribed else None
    return _request_limit(installation_rate, plan_code, current.plan_label)


@lru_cache(maxsize=64)
def _request_limit(installation_rate: str, plan_code: str | None, plan_label: str) -> Limit:
    rate = installation_rate
    if plan_code is not None:
        own = parse(get_plan(plan_code).api_rate)
        ceiling = parse(installation_rate)
        if own.amount / own.get_expiry() < ceiling.amount / ceiling.get_expiry():
            rate = get_plan(plan_code).api_rate
    how = "" if plan_code == "enterprise" else "; higher plans allow more: " + UPGRADE_HOW
    return Limit.of(
        "agency_requests",
        rate,
        f"this agency is over its API request limit ({rate} on the {plan_label} plan); slow "
        f"down and retry after the Retry-After seconds{how}",
        approximate=True,
    )
