"""Stripe-Signature headers as Stripe builds them (``t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>">``), with every part under the test's control so that broken ones can be made."""

from __future__ import annotations

import hashlib
import hmac
import time

WEBHOOK_PATH = "/v1/billing/stripe/webhook"


def digest(secret: str, stamp: int | str, body: bytes) -> str:
    """The v1 signature of ``body`` sent at ``stamp``."""
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature(secret: str, body: bytes, *, stamp: int | None = None) -> str:
    """A valid header for ``body`` (now, unless ``stamp`` says when)."""
    at = int(time.time()) if stamp is None else stamp
    return f"t={at},v1={digest(secret, at, body)}"
