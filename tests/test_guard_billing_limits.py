"""The API rate an agency gets from its plan (shared/billing/entitlements.py), from mutants of
``request_limit`` that the plan-limit tests let live (docs/MUTANTS.md): a subscribed plan slower
than the installation sets the agency's rate; before subscribing, the installation's applies,
and the refusal names the rate and the plan."""

from __future__ import annotations

import pytest

from shared.billing.entitlements import Standing, request_limit
from shared.billing.plans import PLANS

INSTALLATION = "1200/minute"


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """Nothing here touches PostgreSQL or Redis: nothing to empty after each test."""


def starter(*, subscribed: bool) -> Standing:
    return Standing(plan=PLANS["starter"], status="active", access="full", subscribed=subscribed)


def test_a_subscribed_plan_slower_than_the_installation_sets_the_agencys_rate() -> None:
    limit = request_limit(INSTALLATION, starter(subscribed=True))
    assert (limit.rate.amount, limit.rate.get_expiry()) == (300, 60)
    assert "over its API request limit (300/minute on the Starter plan)" in limit.message


def test_before_subscribing_the_installations_rate_applies() -> None:
    limit = request_limit(INSTALLATION, starter(subscribed=False))
    assert (limit.rate.amount, limit.rate.get_expiry()) == (1200, 60)
    assert "over its API request limit (1200/minute on the Starter trial plan)" in limit.message
