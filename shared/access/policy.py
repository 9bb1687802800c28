"""Authorization, decided once for every edge.

An object the principal cannot read is answered as missing (404) so nothing leaks; an object it
can read but may not act on is 403 naming the missing permission.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.access.principal import Grant, Principal
from shared.access.roles import PERMISSIONS, RANK, Role, ScopeType
from shared.errors import Forbidden, NotFound


@dataclass(frozen=True, slots=True)
class Target:
    """Where an object sits: agency-wide (both None), in a brand, or at one location."""

    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None


AGENCY = Target()

BRAND_CONTENT_READS = frozenset(
    {"brand.read", "template.read", "brand_rules.read", "campaign.read", "media.read"}
)
"""Brand-level reads a location grant covers for its own brand."""


def _covers(grant: Grant, action: str, target: Target) -> bool:
    if action not in PERMISSIONS[grant.role]:
        return False
    if grant.scope_type is ScopeType.AGENCY:
        return True
    if grant.scope_type is ScopeType.BRAND:
        return target.brand_id is not None and target.brand_id == grant.scope_id
    if target.location_id is not None:
        return target.location_id == grant.scope_id
    # A location's people may read the brand their location belongs to and the brand's
    # content meant for them; nothing else at brand level.
    return (
        action in BRAND_CONTENT_READS
        and target.brand_id is not None
        and target.brand_id == grant.brand_id
    )


def allowed(principal: Principal, action: str, target: Target = AGENCY) -> bool:
    return any(_covers(grant, action, target) for grant in principal.grants)


def authorize(
    principal: Principal, action: str, target: Target = AGENCY, *, object_type: str | None = None
) -> None:
    """Raise NotFound when the object is out of reach, Forbidden when only the action is.

    With no object (agency-level actions such as creating a brand) there is nothing to hide,
    so a missing permission is always 403."""
    kind = object_type or action.split(".", 1)[0]
    has_object = target != AGENCY or object_type is not None
    if has_object and not allowed(principal, f"{kind}.read", target):
        raise NotFound(f"{kind.replace('_', ' ')} not found")
    if not allowed(principal, action, target):
        raise Forbidden(
            f"this needs the permission '{action}', which your role does not grant here",
            code="permission_denied",
            extra={"missing_permission": action},
        )


@dataclass(frozen=True, slots=True)
class Reach:
    """What a principal may see: everything, or some brands and some locations."""

    everything: bool
    brand_ids: frozenset[uuid.UUID]
    location_ids: frozenset[uuid.UUID]
    location_brand_ids: frozenset[uuid.UUID]


def reach(principal: Principal, read_action: str) -> Reach:
    brands: set[uuid.UUID] = set()
    locations: set[uuid.UUID] = set()
    location_brands: set[uuid.UUID] = set()
    for grant in principal.grants:
        if read_action not in PERMISSIONS[grant.role]:
            continue
        if grant.scope_type is ScopeType.AGENCY:
            return Reach(True, frozenset(), frozenset(), frozenset())
        if grant.scope_type is ScopeType.BRAND and grant.scope_id is not None:
            brands.add(grant.scope_id)
        elif grant.scope_id is not None:
            locations.add(grant.scope_id)
            if grant.brand_id is not None:
                location_brands.add(grant.brand_id)
    return Reach(False, frozenset(brands), frozenset(locations), frozenset(location_brands))


def can_grant(principal: Principal, role: Role, target: Target, action: str) -> bool:
    """May the principal give ``role`` at ``target``? It needs ``action`` (member.invite,
    member.update, api_key.manage …) there through a grant ranked at least as high."""
    return any(
        _covers(grant, action, target) and RANK[grant.role] >= RANK[role]
        for grant in principal.grants
    )


def authorize_grant(principal: Principal, role: Role, target: Target, action: str) -> None:
    kind = _object_type_of(target)
    if kind != "agency":
        authorize(principal, action, target, object_type=kind)
    elif not allowed(principal, action, target):
        raise Forbidden(
            f"this needs the permission '{action}' agency-wide, which your role does not grant",
            code="permission_denied",
            extra={"missing_permission": action},
        )
    if not can_grant(principal, role, target, action):
        raise Forbidden(
            f"you cannot grant the role '{role.value}': it is above your own role here",
            code="role_above_own",
            extra={"role": role.value},
        )


def _object_type_of(target: Target) -> str:
    if target.location_id is not None:
        return "location"
    if target.brand_id is not None:
        return "brand"
    return "agency"
