"""Per-transaction tenant for PostgreSQL row-level security.

``set_config(..., true)`` is transaction-local, so a pooled connection never carries one
agency's setting into another agency's transaction. Policies read it with
``NULLIF(current_setting('app.agency_id', true), '')::uuid``: unset means no rows at all.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_SET_TENANT = text(
    "SELECT set_config('app.agency_id', :agency_id, true),"
    " set_config('app.user_id', :user_id, true)"
)


async def set_tenant(
    session: AsyncSession, agency_id: uuid.UUID | None, user_id: uuid.UUID | None = None
) -> None:
    # Core, not the ORM's execute: this runs on every request and the ORM layer adds nothing.
    connection = await session.connection()
    await connection.execute(
        _SET_TENANT,
        {
            "agency_id": str(agency_id) if agency_id else "",
            "user_id": str(user_id) if user_id else "",
        },
    )
