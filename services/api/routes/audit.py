from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.api.deps import DEFAULT_PAGE_SIZE, CurrentPrincipal, Cursor, Limit, Session
from services.api.listing import Include, wants_total
from services.api.problems import problems
from shared.audit import service as audit_service
from shared.audit.schemas import AuditEventOut
from shared.fieldtypes import MaybeDateTime
from shared.pagination import Page

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])


@router.get(
    "",
    summary="The agency's audit log, newest first",
    description="Every change with its actor, object, before/after values, request id and "
    "client address. Owners and admins only. Always newest first (no `sort`): it is a log.",
    responses=problems(400, 401, 403, 422),
    openapi_extra={"x-permission": "audit.read"},
)
async def list_audit_events(
    session: Session,
    principal: CurrentPrincipal,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | None = None,
    since: MaybeDateTime = None,
    until: MaybeDateTime = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[AuditEventOut]:
    rows, next_cursor, total = await audit_service.list_events(
        session,
        principal,
        audit_service.AuditFilter(
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
        ),
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[AuditEventOut](
        items=[AuditEventOut.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        total=total,
    )
