"""Roles, scopes and the one table from role to actions.

A grant at a wider scope covers everything below it: agency ⊃ brand ⊃ location. Later domains
add their actions here so every edge (REST, portal, worker) asks the same question.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    BRAND_MANAGER = "brand_manager"
    BRAND_VIEWER = "brand_viewer"
    LOCATION_MANAGER = "location_manager"
    LOCATION_STAFF = "location_staff"


class ScopeType(StrEnum):
    AGENCY = "agency"
    BRAND = "brand"
    LOCATION = "location"


ROLE_SCOPE: dict[Role, ScopeType] = {
    Role.OWNER: ScopeType.AGENCY,
    Role.ADMIN: ScopeType.AGENCY,
    Role.BRAND_MANAGER: ScopeType.BRAND,
    Role.BRAND_VIEWER: ScopeType.BRAND,
    Role.LOCATION_MANAGER: ScopeType.LOCATION,
    Role.LOCATION_STAFF: ScopeType.LOCATION,
}

_VIEW = {"agency.read", "brand.read", "location.read", "location_group.read"}
_LOCATION_EDIT = {"location.update"}
_BRAND_EDIT = {
    "brand.update",
    "location.create",
    "location.update",
    "location.delete",
    "location.import",
    "location_group.create",
    "location_group.update",
    "location_group.delete",
}
_AGENCY_ADMIN = {"agency.update", "brand.create", "brand.delete", "member.invite"}

PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.OWNER: frozenset(_VIEW | _BRAND_EDIT | _AGENCY_ADMIN | {"billing.manage"}),
    Role.ADMIN: frozenset(_VIEW | _BRAND_EDIT | _AGENCY_ADMIN),
    Role.BRAND_MANAGER: frozenset(_VIEW | _BRAND_EDIT),
    Role.BRAND_VIEWER: frozenset(_VIEW),
    Role.LOCATION_MANAGER: frozenset(_VIEW | _LOCATION_EDIT),
    Role.LOCATION_STAFF: frozenset(_VIEW),
}
