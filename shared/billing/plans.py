"""The plans, defined once. Stripe knows each plan by a price id per environment; everything
else a plan allows (locations, channels, features, API rate, trial) is Chorus's to enforce."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.content.platforms import PLATFORMS


class Feature(StrEnum):
    APPROVALS = "approvals"
    AUTO_REPLIES = "auto_replies"
    ANALYTICS_EXPORT = "analytics_export"
    API_KEYS = "api_keys"
    WEBHOOKS = "webhooks"


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    price_per_location_cents: int
    """Per active location per month, in ``currency``."""
    location_limit: int | None
    """Active locations at most; None: no limit."""
    channels: frozenset[str]
    features: frozenset[Feature]
    api_rate: str
    """Requests per agency over every API route, e.g. ``"600/minute"``."""
    trial_days: int
    storage_bytes: int | None
    """Media library storage at most (each distinct file counted once); None: no limit."""
    stripe_price_ids: dict[str, str] = field(default_factory=dict)
    """Stripe's id of this plan's monthly per-unit price, per Stripe environment (``live``,
    ``test``, ``local``: localstripe, where it is a legacy plan id Chorus creates itself)."""
    currency: str = "usd"

    def allows_locations(self, count: int) -> bool:
        return self.location_limit is None or count <= self.location_limit

    def describe_limit(self) -> str:
        return "unlimited" if self.location_limit is None else str(self.location_limit)


ALL_CHANNELS = frozenset(PLATFORMS)
GIB = 1024**3

PLANS: dict[str, Plan] = {
    plan.code: plan
    for plan in (
        Plan(
            code="starter",
            name="Starter",
            price_per_location_cents=1900,
            location_limit=25,
            channels=frozenset({"facebook", "instagram", "google_business"}),
            features=frozenset({Feature.APPROVALS}),
            api_rate="300/minute",
            trial_days=14,
            storage_bytes=10 * GIB,
            stripe_price_ids={
                "live": "price_chorus_starter_live",
                "test": "price_chorus_starter_test",
                "local": "chorus_starter_monthly",
            },
        ),
        Plan(
            code="pro",
            name="Pro",
            price_per_location_cents=2900,
            location_limit=500,
            channels=ALL_CHANNELS,
            features=frozenset(
                {
                    Feature.APPROVALS,
                    Feature.AUTO_REPLIES,
                    Feature.ANALYTICS_EXPORT,
                    Feature.API_KEYS,
                }
            ),
            api_rate="1200/minute",
            trial_days=14,
            storage_bytes=200 * GIB,
            stripe_price_ids={
                "live": "price_chorus_pro_live",
                "test": "price_chorus_pro_test",
                "local": "chorus_pro_monthly",
            },
        ),
        Plan(
            code="enterprise",
            name="Enterprise",
            price_per_location_cents=4900,
            location_limit=None,
            channels=ALL_CHANNELS,
            features=frozenset(Feature),
            api_rate="6000/minute",
            trial_days=30,
            storage_bytes=None,
            stripe_price_ids={
                "live": "price_chorus_enterprise_live",
                "test": "price_chorus_enterprise_test",
                "local": "chorus_enterprise_monthly",
            },
        ),
    )
}

PLAN_ORDER = ("starter", "pro", "enterprise")


def get_plan(code: str) -> Plan:
    return PLANS[code]


def plan_with(
    feature: Feature | None = None, locations: int | None = None, storage: int | None = None
) -> Plan | None:
    """The cheapest plan that has ``feature`` and room for ``locations`` and ``storage``
    bytes of media: what to upgrade to."""
    for code in PLAN_ORDER:
        plan = PLANS[code]
        if feature is not None and feature not in plan.features:
            continue
        if locations is not None and not plan.allows_locations(locations):
            continue
        if storage is not None and plan.storage_bytes is not None and storage > plan.storage_bytes:
            continue
        return plan
    return None


def plan_of_price(price_id: str) -> Plan | None:
    for plan in PLANS.values():
        if price_id in plan.stripe_price_ids.values():
            return plan
    return None
