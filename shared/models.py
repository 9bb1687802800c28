"""Imports every model so ``Base.metadata`` is complete (Alembic, tests)."""

from shared.access.models import ApiKey, Invitation, Membership
from shared.agencies.models import Agency
from shared.audit.models import AuditEvent
from shared.brands.models import Brand
from shared.identity.models import RefreshToken, User
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.mail.models import OutboundEmail

__all__ = [
    "Agency",
    "ApiKey",
    "AuditEvent",
    "Brand",
    "Invitation",
    "Location",
    "LocationGroup",
    "LocationGroupMember",
    "Membership",
    "OutboundEmail",
    "RefreshToken",
    "User",
]
