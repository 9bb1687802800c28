"""The access policy's answers, role by role (shared/access/policy.py), from mutants of it that
the access-control tests let live (docs/MUTANTS.md).

Each case is what a person with those grants gets for an action on an object: allowed, 404 (the
object is out of their reach, so it is "not found" and shows nothing) or 403 naming the missing
permission. What lists show them is the policy's reach. No database: the policy is a pure
function of the principal's grants; the API tests prove the edges ask it.
"""

from __future__ import annotations

import uuid

import pytest

from shared.access.policy import (
    AGENCY,
    Reach,
    Target,
    authorize,
    authorize_grant,
    reach,
)
from shared.access.principal import Grant, Principal
from shared.access.roles import Role, ScopeType
from shared.errors import AppError

AGENCY_ID = uuid.uuid4()
BRAND_A, BRAND_B = uuid.uuid4(), uuid.uuid4()
LOC_A1, LOC_A2, LOC_B1 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AT_A1 = Target(brand_id=BRAND_A, location_id=LOC_A1)
AT_A2 = Target(brand_id=BRAND_A, location_id=LOC_A2)
AT_B1 = Target(brand_id=BRAND_B, location_id=LOC_B1)
BRAND_A_ONLY = Target(brand_id=BRAND_A)
BRAND_B_ONLY = Target(brand_id=BRAND_B)


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """Nothing here touches PostgreSQL or Redis: nothing to empty after each test."""


def _at_location(role: Role, location: uuid.UUID, brand: uuid.UUID = BRAND_A) -> Grant:
    return Grant(role, ScopeType.LOCATION, location, brand_id=brand)


PEOPLE = {
    "owner": (Grant(Role.OWNER, ScopeType.AGENCY),),
    "admin": (Grant(Role.ADMIN, ScopeType.AGENCY),),
    "brand manager of A": (Grant(Role.BRAND_MANAGER, ScopeType.BRAND, BRAND_A),),
    "brand viewer of A": (Grant(Role.BRAND_VIEWER, ScopeType.BRAND, BRAND_A),),
    "location manager of A1": (_at_location(Role.LOCATION_MANAGER, LOC_A1),),
    "staff of A1": (_at_location(Role.LOCATION_STAFF, LOC_A1),),
    # Two grants, the weaker first: each place gets what its own grant allows.
    "staff of A1, manager of A2": (
        _at_location(Role.LOCATION_STAFF, LOC_A1),
        _at_location(Role.LOCATION_MANAGER, LOC_A2),
    ),
    "viewer of A, manager of A1": (
        Grant(Role.BRAND_VIEWER, ScopeType.BRAND, BRAND_A),
        _at_location(Role.LOCATION_MANAGER, LOC_A1),
    ),
}


def person(name: str) -> Principal:
    return Principal(AGENCY_ID, PEOPLE[name], user_id=uuid.uuid4())


def answer(call: object, *args: object, **kwargs: object) -> str:
    """ "ok", or the status, code and message the person would get."""
    try:
        call(*args, **kwargs)  # type: ignore[operator]
    except AppError as exc:
        missing = exc.extra.get("missing_permission") or exc.extra.get("role")
        return f"{exc.status_code} {exc.error_code}: {exc.message}" + (
            f" [{missing}]" if missing else ""
        )
    return "ok"


NOT_FOUND = "404 not_found: {} not found"
DENIED = (
    "403 permission_denied: this needs the permission '{0}', which your role does not grant "
    "here [{0}]"
)

AUTHORIZE = [
    ("owner", "location.update", AT_B1, None, "ok"),
    ("owner", "billing.manage", AGENCY, None, "ok"),
    ("admin", "billing.manage", AGENCY, None, DENIED.format("billing.manage")),
    ("brand manager of A", "location.update", AT_A1, None, "ok"),
    ("brand manager of A", "location.update", AT_B1, None, NOT_FOUND.format("location")),
    ("brand manager of A", "brand.update", BRAND_A_ONLY, None, "ok"),
    ("brand manager of A", "brand.update", BRAND_B_ONLY, None, NOT_FOUND.format("brand")),
    # An agency-level action has no object to hide: 403, never 404.
    ("brand manager of A", "brand.create", AGENCY, None, DENIED.format("brand.create")),
    # An agency-wide object (an API key) named by its type: out of reach, so not found.
    ("brand manager of A", "api_key.manage", AGENCY, "api_key", NOT_FOUND.format("api key")),
    ("owner", "api_key.manage", AGENCY, "api_key", "ok"),
    ("brand viewer of A", "location.update", AT_A1, None, DENIED.format("location.update")),
    ("brand viewer of A", "location.read", AT_A2, None, "ok"),
    ("location manager of A1", "location.update", AT_A1, None, "ok"),
    ("location manager of A1", "location.update", AT_A2, None, NOT_FOUND.format("location")),
    # A location's people read their own brand and its content, nothing else at brand level.
    ("location manager of A1", "brand.read", BRAND_A_ONLY, None, "ok"),
    ("location manager of A1", "template.read", BRAND_A_ONLY, None, "ok"),
    ("location manager of A1", "brand.read", BRAND_B_ONLY, None, NOT_FOUND.format("brand")),
    ("location manager of A1", "brand.update", BRAND_A_ONLY, None, DENIED.format("brand.update")),
    (
        "location manager of A1",
        "location_group.read",
        BRAND_A_ONLY,
        None,
        NOT_FOUND.format("location group"),
    ),
    ("staff of A1", "post.create", AT_A1, None, DENIED.format("post.create")),
    ("staff of A1", "review.reply", AT_A1, None, "ok"),
    ("staff of A1, manager of A2", "post.create", AT_A2, None, "ok"),
    ("staff of A1, manager of A2", "post.create", AT_A1, None, DENIED.format("post.create")),
    ("staff of A1, manager of A2", "post.read", AT_B1, None, NOT_FOUND.format("post")),
]


@pytest.mark.parametrize(
    ("who", "action", "target", "object_type", "expected"),
    AUTHORIZE,
    ids=[f"{c[0]}: {c[1]}" + (" elsewhere" if c[4].startswith("404") else "") for c in AUTHORIZE],
)
def test_each_person_is_allowed_refused_or_not_shown_the_object(
    who: str, action: str, target: Target, object_type: str | None, expected: str
) -> None:
    assert answer(authorize, person(who), action, target, object_type=object_type) == expected


ABOVE_OWN = (
    "403 role_above_own: you cannot grant the role '{0}': it is above your own role here [{0}]"
)
AGENCY_DENIED = (
    "403 permission_denied: this needs the permission 'member.invite' agency-wide, which your "
    "role does not grant [member.invite]"
)

GRANTING = [
    ("owner", Role.OWNER, AGENCY, "ok"),
    ("admin", Role.OWNER, AGENCY, ABOVE_OWN.format("owner")),
    ("admin", Role.ADMIN, AGENCY, "ok"),
    ("brand manager of A", Role.ADMIN, AGENCY, AGENCY_DENIED),
    ("brand manager of A", Role.BRAND_MANAGER, BRAND_A_ONLY, "ok"),
    ("brand manager of A", Role.BRAND_VIEWER, BRAND_B_ONLY, NOT_FOUND.format("brand")),
    ("brand manager of A", Role.LOCATION_STAFF, AT_A1, "ok"),
    ("brand manager of A", Role.LOCATION_STAFF, AT_B1, NOT_FOUND.format("location")),
    ("location manager of A1", Role.LOCATION_MANAGER, AT_A1, "ok"),
    ("location manager of A1", Role.LOCATION_STAFF, AT_A2, NOT_FOUND.format("location")),
    ("location manager of A1", Role.BRAND_VIEWER, BRAND_A_ONLY, DENIED.format("member.invite")),
    ("staff of A1", Role.LOCATION_STAFF, AT_A1, DENIED.format("member.invite")),
    ("staff of A1, manager of A2", Role.LOCATION_MANAGER, AT_A2, "ok"),
    ("staff of A1, manager of A2", Role.LOCATION_STAFF, AT_A1, DENIED.format("member.invite")),
    # The viewer's rank is high enough but it may not invite; the manager may invite but its
    # rank is too low: neither grant alone allows it.
    ("viewer of A, manager of A1", Role.BRAND_VIEWER, AT_A1, ABOVE_OWN.format("brand_viewer")),
    ("viewer of A, manager of A1", Role.LOCATION_MANAGER, AT_A1, "ok"),
]


@pytest.mark.parametrize(
    ("who", "role", "target", "expected"),
    GRANTING,
    ids=[f"{c[0]} grants {c[1].value}" for c in GRANTING],
)
def test_nobody_grants_beyond_their_reach_or_above_their_rank(
    who: str, role: Role, target: Target, expected: str
) -> None:
    assert answer(authorize_grant, person(who), role, target, "member.invite") == expected


def test_lists_show_each_person_what_their_grants_reach() -> None:
    assert reach(person("admin"), "location.read").everything
    assert reach(person("brand manager of A"), "location.read") == Reach(
        False, frozenset({BRAND_A}), frozenset(), frozenset()
    )
    assert reach(person("location manager of A1"), "location.read") == Reach(
        False, frozenset(), frozenset({LOC_A1}), frozenset({BRAND_A})
    )
    # The member list: staff may not read members, so only the managed location shows.
    assert reach(person("staff of A1, manager of A2"), "member.read") == Reach(
        False, frozenset(), frozenset({LOC_A2}), frozenset({BRAND_A})
    )
    assert reach(person("staff of A1"), "member.read") == Reach(
        False, frozenset(), frozenset(), frozenset()
    )
    staff_then_owner = Principal(AGENCY_ID, (*PEOPLE["staff of A1"], *PEOPLE["owner"]))
    assert reach(staff_then_owner, "member.read").everything
