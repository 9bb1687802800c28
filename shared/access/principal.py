"""The one principal of a request or job: who acts, in which agency, with which grants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from shared.access.roles import PERMISSIONS, Role, ScopeType


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    scope_type: ScopeType
    scope_id: uuid.UUID | None = None
    brand_id: uuid.UUID | None = None
    """For a location grant: the brand of that location (lets its holder read the brand)."""


@dataclass(frozen=True, slots=True)
class Principal:
    agency_id: uuid.UUID
    grants: tuple[Grant, ...]
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"

    def actions(self) -> frozenset[str]:
        out: set[str] = set()
        for grant in self.grants:
            out |= PERMISSIONS[grant.role]
        return frozenset(out)

    @property
    def is_agency_wide(self) -> bool:
        return any(g.scope_type is ScopeType.AGENCY for g in self.grants)
