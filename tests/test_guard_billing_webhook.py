"""Stripe webhook signatures at the edge of the tolerance (shared/billing/gateway.py), from a
mutant of ``verify_webhook`` that the webhook tests let live (docs/MUTANTS.md): a body signed
the whole tolerance ahead of our clock is still accepted, one second more is refused, as the
SDK does for the tolerance behind."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import stripe

from shared.billing.gateway import verify_webhook

SECRET = "whsec_guard"
PAYLOAD = b'{"id": "evt_guard", "type": "invoice.paid"}'
NOW = 1_800_000_000
TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """Nothing here touches PostgreSQL or Redis: nothing to empty after each test."""


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both our check (the future) and the SDK's (the past) read the system's time.
    monkeypatch.setattr(time, "time", lambda: float(NOW))


def signed(at: int) -> str:
    mac = hmac.new(SECRET.encode(), f"{at}.".encode() + PAYLOAD, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


@pytest.mark.parametrize("offset", [-TOLERANCE, 0, TOLERANCE], ids=["behind", "now", "ahead"])
def test_a_body_signed_within_the_tolerance_either_side_is_accepted(offset: int) -> None:
    verify_webhook(PAYLOAD, signed(NOW + offset), SECRET)


@pytest.mark.parametrize("offset", [-TOLERANCE - 1, TOLERANCE + 1], ids=["behind", "ahead"])
def test_a_body_signed_one_second_beyond_the_tolerance_is_refused(offset: int) -> None:
    with pytest.raises(stripe.SignatureVerificationError):
        verify_webhook(PAYLOAD, signed(NOW + offset), SECRET)
