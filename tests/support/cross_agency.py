"""Every query that reads or writes across agencies, listed in one place (issue #14).

Row-level security lets a transaction see one agency's rows; the few passes that must see
every agency's (the dispatcher, the sweeps, the relay, the collection and refresh schedulers,
billing, the mail sweep) name themselves in ``app.scan`` and a ``named_scan`` policy per table
lets exactly that scan through. Such a pass must never let one agency's state (read-only,
paused, failing) stop the others' work.

``SCANS`` is the list; ``tests/test_cross_agency_sweeps.py`` compares it with what the code
and the database actually do (every ``set_config('app.scan', ...)`` call site, every scan
name a policy admits), so a new cross-agency query fails the suite until it is listed here,
with the test that shows one unhealthy agency does not block the others.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("shared", "services")


@dataclass(frozen=True, slots=True)
class Scan:
    """One function that runs a query across agencies under a named scan."""

    module: str
    """Path of the module, relative to the repository root."""
    function: str
    scan: str
    """The value it sets in ``app.scan`` (the name the ``named_scan`` policies admit)."""
    unhealthy_agency: str
    """What happens to an agency that is paused, read-only or failing: never a block."""
    test: str
    """The test in ``tests/test_cross_agency_sweeps.py`` that shows it, with other agencies."""


SCANS: tuple[Scan, ...] = (
    Scan(
        "shared/publishing/dispatcher.py",
        "lease_due",
        "post_dispatch",
        "a read-only (publishing paused) agency's scheduled posts wait untouched; posts it "
        "had already handed on finish; other agencies' posts are leased",
        "test_a_paused_agency_holds_only_its_own_scheduled_posts",
    ),
    Scan(
        "shared/publishing/sweeps.py",
        "complete_finished_campaigns",
        "post_dispatch",
        "a read-only agency's finished campaigns complete like anyone's",
        "test_finished_campaigns_of_every_agency_complete_a_read_only_one_included",
    ),
    Scan(
        "shared/publishing/sweeps.py",
        "skip_overdue_approvals",
        "post_dispatch",
        "overdue approvals are skipped in every agency",
        "test_overdue_approvals_are_skipped_in_every_agency",
    ),
    Scan(
        "services/worker/loops.py",
        "relaunch_stalled",
        "post_dispatch",
        "a stalled launch of any agency is enqueued again",
        "test_stalled_launches_of_every_agency_are_relaunched",
    ),
    Scan(
        "shared/events/relay.py",
        "relay_once",
        "outbox_event",
        "a read-only agency's events are relayed with everyone's",
        "test_the_relay_delivers_every_agencys_events_a_read_only_one_included",
    ),
    Scan(
        "shared/events/relay.py",
        "relay_once",
        "outbox_event",
        "a consumer failing on one agency's events leaves only those unrelayed",
        "test_one_agencys_failing_events_do_not_hold_the_others",
    ),
    Scan(
        "shared/events/relay.py",
        "relay_once",
        "outbox_event",
        "a failing agency's events back off, so a pass full of them leaves room for others",
        "test_a_failing_agency_with_a_full_pass_of_events_does_not_starve_the_others",
    ),
    Scan(
        "shared/mail/service.py",
        "sweep",
        "mail_sweep",
        "due mail of every agency is handed on, a read-only agency's included",
        "test_the_mail_sweep_hands_on_every_agencys_due_mail",
    ),
    Scan(
        "shared/media/resumable.py",
        "find_expired",
        "media_upload_expiry",
        "expired uploads of every agency are aborted, a read-only agency's included; one "
        "being written to waits for the next pass",
        "test_expired_uploads_of_every_agency_are_aborted",
    ),
    Scan(
        "shared/media/housekeeping.py",
        "find_waiting_uploads",
        "media_housekeeping",
        "uploads of every agency whose processing job was lost are handed back, a read-only "
        "agency's included (its library keeps working)",
        "test_media_uploads_left_waiting_in_every_agency_are_handed_back",
    ),
    Scan(
        "shared/media/housekeeping.py",
        "_purge_deleted_media",
        "media_housekeeping",
        "deleted media of every agency go once their grace has passed, each agency's own",
        "test_deleted_media_and_unnamed_files_of_every_agency_are_purged",
    ),
    Scan(
        "shared/media/housekeeping.py",
        "_purge_orphan_blobs",
        "media_housekeeping",
        "files no media names are removed per agency; another agency's copy of the same "
        "bytes stays",
        "test_deleted_media_and_unnamed_files_of_every_agency_are_purged",
    ),
    Scan(
        "shared/billing/service.py",
        "sweep",
        "billing",
        "each agency whose grace ran out turns read-only on its own; others are untouched",
        "test_the_billing_sweep_turns_read_only_only_the_agencies_whose_grace_ran_out",
    ),
    Scan(
        "shared/billing/service.py",
        "_agency_of_customer",
        "billing",
        "a webhook finds its own agency by Stripe customer, never another's",
        "test_a_webhook_finds_only_its_own_customers_agency",
    ),
    Scan(
        "shared/reviews/collection.py",
        "sweep",
        "review_collect",
        "sources of every agency are due; a read-only agency's too (collection is not publishing)",
        "test_review_sources_of_every_agency_are_due",
    ),
    Scan(
        "shared/metrics/service.py",
        "find_collectable",
        "social_account",
        "accounts of every agency are collectable",
        "test_metrics_and_token_refresh_find_every_agencys_accounts",
    ),
    Scan(
        "shared/social_accounts/refresh.py",
        "find_due",
        "social_account",
        "tokens of every agency are refreshed",
        "test_metrics_and_token_refresh_find_every_agencys_accounts",
    ),
    Scan(
        "shared/social_accounts/refresh.py",
        "reseal_all",
        "social_account",
        "a key rotation reseals every agency's tokens (an operator command, not a loop)",
        "test_a_key_rotation_reseals_every_agencys_tokens",
    ),
)

_SETS_SCAN = re.compile(r"set_config\('app\.scan',\s*:\w+")


def scans_in_code() -> set[tuple[str, str]]:
    """``(module, function)`` of every function that sets a named scan."""
    found: set[tuple[str, str]] = set()
    for directory in SOURCE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            source = path.read_text()
            if "app.scan" not in source:
                continue
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    segment = ast.get_source_segment(source, node) or ""
                    if _SETS_SCAN.search(segment):
                        found.add((str(path.relative_to(ROOT)), node.name))
    return found


_POLICY_SCAN = re.compile(r"current_setting\('app\.scan'(?:::text)?, true\) = '(\w+)'")
_POLICY_SCAN_LIST = re.compile(r"current_setting\('app\.scan'(?:::text)?, true\) = ANY \(([^)]*)")


def scan_names_in_policy(expression: str) -> set[str]:
    """Scan names a policy expression (as ``pg_policies`` shows it) admits."""
    names = set(_POLICY_SCAN.findall(expression))
    for listed in _POLICY_SCAN_LIST.findall(expression):
        names.update(re.findall(r"'(\w+)'", listed))
    return names
