"""Every exception to "a tenant table's policies depend only on the transaction's agency",
in one place, each with its reason (issue #14). tests/test_rls_catalog.py fails on a policy
or an unprotected ``agency_id`` table that is not listed here, and on a listed policy whose
command or expression differs from what is written here.
"""

from __future__ import annotations

from dataclasses import dataclass

CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
"""The tenant of the transaction (shared.db.tenancy.set_tenant)."""

TENANT_POLICY = "{column} = " + CURRENT_AGENCY
"""What every other policy's USING and WITH CHECK must be, ``column`` the tenant column."""

_SCAN = "current_setting('app.scan', true)"


@dataclass(frozen=True, slots=True)
class CrossAgencyPolicy:
    command: str
    using: str
    check: str | None
    why: str


def _scan(command: str, name: str, why: str) -> CrossAgencyPolicy:
    using = f"{_SCAN} = '{name}'"
    return CrossAgencyPolicy(command, using, using if command == "ALL" else None, why)


CROSS_AGENCY_POLICIES: dict[tuple[str, str], CrossAgencyPolicy] = {
    ("agency", "billing_scan"): _scan(
        "SELECT", "billing", "the billing sweep reads every agency's subscription state"
    ),
    ("agency", "member_agencies"): CrossAgencyPolicy(
        "SELECT",
        "EXISTS (SELECT 1 FROM membership m WHERE m.agency_id = agency.id"
        " AND m.user_id = NULLIF(current_setting('app.user_id', true), '')::uuid)",
        None,
        "a signed-in user lists the agencies they belong to before choosing one",
    ),
    ("membership", "own_memberships"): CrossAgencyPolicy(
        "SELECT",
        "user_id = NULLIF(current_setting('app.user_id', true), '')::uuid",
        None,
        "log-in and the agency switcher read the user's own memberships in every agency",
    ),
    ("api_key", "lookup_by_prefix"): CrossAgencyPolicy(
        "SELECT",
        "prefix = NULLIF(current_setting('app.api_key_prefix', true), '')",
        None,
        "an API key is found by its prefix before its agency is known",
    ),
    ("billing_account", "named_scan"): CrossAgencyPolicy(
        "SELECT",
        f"{_SCAN} = ANY (ARRAY['billing', 'post_dispatch'])",
        None,
        "the billing sweep and the dispatcher (read-only agencies) read every agency's access",
    ),
    ("campaign", "named_scan"): _scan(
        "ALL", "post_dispatch", "the dispatcher moves every agency's due campaigns"
    ),
    ("post", "named_scan"): _scan(
        "ALL", "post_dispatch", "the dispatcher claims every agency's due posts"
    ),
    ("media_upload", "named_scan"): _scan(
        "SELECT",
        "media_upload_expiry",
        "the upload expiry sweep lists every agency's unfinished uploads past their expiry",
    ),
    ("media", "named_scan"): _scan(
        "SELECT",
        "media_housekeeping",
        "media housekeeping lists every agency's lost uploads and deleted media to purge",
    ),
    ("media_blob", "named_scan"): _scan(
        "SELECT",
        "media_housekeeping",
        "media housekeeping lists every agency's stored files that no media names any more",
    ),
    ("outbound_email", "named_scan"): _scan(
        "ALL", "mail_sweep", "the mail sweep sends and retries every agency's e-mail"
    ),
    ("outbox_event", "named_scan"): _scan(
        "ALL", "outbox_event", "the outbox relay publishes every agency's events"
    ),
    ("review", "named_scan"): _scan(
        "SELECT", "review_collect", "the collection sweep lists every agency's replies that are due"
    ),
    ("review_source", "named_scan"): _scan(
        "ALL",
        "review_collect",
        "the collection sweep starts, follows and lists every agency's sources",
    ),
    ("social_account", "named_scan"): _scan(
        "SELECT", "social_account", "the token refresh scheduler finds expiring accounts"
    ),
    ("social_account", "named_scan_reviews"): _scan(
        "SELECT",
        "review_collect",
        "the collection sweep finds newly connected and reconnected accounts",
    ),
}

TABLES_WITHOUT_RLS: dict[str, str] = {
    "refresh_token": "read by its token's digest to refresh a session, before any agency is"
    " chosen; it carries the agency the new access token is for",
    "stripe_event": "the billing webhook's inbox: an event arrives before its agency is known",
}
"""Tables with an ``agency_id`` column but no row-level security, and why."""
