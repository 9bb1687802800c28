"""Imports every model so ``Base.metadata`` is complete (Alembic, tests)."""

from shared.access.models import Membership
from shared.agencies.models import Agency
from shared.brands.models import Brand
from shared.identity.models import RefreshToken, User
from shared.locations.models import Location, LocationGroup, LocationGroupMember

__all__ = [
    "Agency",
    "Brand",
    "Location",
    "LocationGroup",
    "LocationGroupMember",
    "Membership",
    "RefreshToken",
    "User",
]
