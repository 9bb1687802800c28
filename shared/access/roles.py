"""Roles, scopes and the one table from role to actions.

A grant at a wider scope covers everything below it: agency ⊃ brand ⊃ location. Later domains
plug their actions in here, so the REST API, the portal and the worker ask the same question.
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

RANK: dict[Role, int] = {
    Role.OWNER: 60,
    Role.ADMIN: 50,
    Role.BRAND_MANAGER: 40,
    Role.BRAND_VIEWER: 30,
    Role.LOCATION_MANAGER: 20,
    Role.LOCATION_STAFF: 10,
}
"""Nobody may grant a role ranked above the one they act with."""

# What each audience needs, by domain. Reads of a location's own brand are covered by the
# policy (a location grant may read its brand), not listed here.
_BRAND_READ = {
    "brand.read",
    "location.read",
    "location_group.read",
    "template.read",
    "brand_rules.read",
    "campaign.read",
    "post.read",
    "social_account.read",
    "review.read",
    "metric.read",
    "media.read",
}
_BRAND_WORK = {
    "brand.update",
    "location.create",
    "location.update",
    "location.delete",
    "location.import",
    "location_group.create",
    "location_group.update",
    "location_group.delete",
    "template.create",
    "template.update",
    "template.publish",
    "brand_rules.update",
    "campaign.create",
    "campaign.update",
    "campaign.launch",
    "post.create",
    "post.approve",
    "social_account.connect",
    "review.reply",
    "member.read",
    "member.invite",
    "member.update",
    "member.remove",
    "media.create",
    "media.update",
    "media.delete",
}
_AGENCY_ADMIN = {
    "agency.read",
    "agency.update",
    "brand.create",
    "brand.delete",
    "api_key.read",
    "api_key.manage",
    "audit.read",
    "billing.read",
}
_LOCATION_READ = {
    "brand.read",
    "location.read",
    "template.read",
    "campaign.read",
    "post.read",
    "social_account.read",
    "review.read",
    "metric.read",
    "media.read",
}
_LOCATION_MANAGE = {
    "location.update",
    "post.create",
    "post.confirm",
    "social_account.connect",
    "review.reply",
    "member.read",
    "member.invite",
    "member.update",
    "member.remove",
    "media.create",
    "media.update",
    "media.delete",
}

PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.OWNER: frozenset(_BRAND_READ | _BRAND_WORK | _AGENCY_ADMIN | {"billing.manage"}),
    Role.ADMIN: frozenset(_BRAND_READ | _BRAND_WORK | _AGENCY_ADMIN),
    Role.BRAND_MANAGER: frozenset(_BRAND_READ | _BRAND_WORK),
    Role.BRAND_VIEWER: frozenset(_BRAND_READ),
    Role.LOCATION_MANAGER: frozenset(_LOCATION_READ | _LOCATION_MANAGE),
    Role.LOCATION_STAFF: frozenset(_LOCATION_READ | {"review.reply"}),
}

ALL_ACTIONS: frozenset[str] = frozenset().union(*PERMISSIONS.values())
