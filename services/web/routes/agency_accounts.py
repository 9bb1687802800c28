"""Social-account health across every location the viewer reads: what needs reconnecting
(or was revoked), at which location of which brand, why, and who can fix it (the location's
managers), with totals by status; filtered by status, brand and platform; paged.

The same service as ``/v1/social-accounts`` (``social_account.read``, its reach): owners and
administrators see the agency, brand people their brands. The page only reads: reconnecting
happens on the location's own accounts page, by the people it names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from services.api.deps import Session
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_
from services.web.post_words import PLATFORM_NAMES
from services.web.rendering import redirect, render
from services.web.routes.agency_members import places_of
from services.web.routing import web_router
from shared.access.models import Membership
from shared.access.policy import Target, allowed
from shared.access.roles import Role, ScopeType
from shared.errors import AppError, Forbidden
from shared.identity.models import User
from shared.social_accounts import service as account_service
from shared.social_accounts.models import SocialAccount

router = web_router()

PAGE = 50
STATUSES: dict[str, str] = {
    "needs_reconnect": N_("Needs reconnecting"),
    "revoked": N_("Disconnected"),
    "connected": N_("Connected"),
}


@dataclass(frozen=True, slots=True)
class Row:
    account: SocialAccount
    location: str
    brand: str
    fixers: list[str]


def require_page(viewer: Viewer) -> None:
    """Agency-wide readers and brand people (their brands); a location's people have their
    own accounts page."""
    if viewer.may_in_agency("social_account.read"):
        return
    if any(
        allowed(viewer.principal, "social_account.read", Target(brand_id=b.id))
        for b in viewer.brands
    ):
        return
    raise Forbidden(
        "this needs the permission 'social_account.read' on the agency or a brand",
        code="permission_denied",
    )


async def _fixers(
    session: Session, viewer: Viewer, location_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The managers of each location (those who reconnect its accounts), one statement."""
    rows = await session.execute(
        select(Membership.scope_id, User.full_name, User.email)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.agency_id == viewer.principal.agency_id,
            Membership.scope_type == ScopeType.LOCATION.value,
            Membership.role == Role.LOCATION_MANAGER.value,
            Membership.scope_id.in_(location_ids),
        )
        .order_by(User.full_name, User.email)
    )
    found: dict[uuid.UUID, list[str]] = {}
    for row in rows:
        if row.scope_id is not None:
            found.setdefault(row.scope_id, []).append(
                f"{row.full_name} ({row.email})" if row.full_name else row.email
            )
    return found


async def _count(
    session: Session, viewer: Viewer, status: str, brand_id: uuid.UUID | None, platform: str | None
) -> int:
    page = await account_service.list_accounts(
        session,
        viewer.principal,
        account_service.AccountFilter(brand_id=brand_id, platform=platform, status=status),
        limit=1,
        cursor=None,
        total=True,
    )
    return page.total or 0


@router.get("/agency/accounts")
async def accounts_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    status: Annotated[str, Query(max_length=20)] = "needs_reconnect",
    brand: Annotated[str, Query(max_length=40)] = "",
    platform: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    require_page(viewer)
    chosen_status = status if status in STATUSES else "needs_reconnect"
    brands = {str(b.id): b for b in viewer.brands}
    brand_id = brands[brand].id if brand in brands else None
    chosen_platform = platform if platform in PLATFORM_NAMES else None
    try:
        listed = await account_service.list_accounts(
            session,
            viewer.principal,
            account_service.AccountFilter(
                brand_id=brand_id, platform=chosen_platform, status=chosen_status
            ),
            sort="-updated_at",
            limit=PAGE,
            cursor=cursor,
        )
    except AppError as exc:
        if exc.error_code != "invalid_cursor":
            raise
        return redirect("/agency/accounts")
    location_ids = {a.location_id for a in listed.items}
    places = await places_of(session, viewer, {a.brand_id for a in listed.items}, location_ids)
    fixers = await _fixers(session, viewer, location_ids)
    rows = [
        Row(
            a,
            places.name(ScopeType.LOCATION.value, a.location_id),
            places.name(ScopeType.BRAND.value, a.brand_id),
            fixers.get(a.location_id, []),
        )
        for a in listed.items
    ]
    counts = {s: await _count(session, viewer, s, brand_id, chosen_platform) for s in STATUSES}
    base = {"brand": str(brand_id) if brand_id else "", "platform": chosen_platform or ""}
    return render(
        request,
        "agency/accounts.html",
        {
            "rows": rows,
            "status": chosen_status,
            "statuses": STATUSES,
            "counts": counts,
            "brands": viewer.brands,
            "platforms": PLATFORM_NAMES,
            "chosen": base,
            "next_cursor": listed.next_cursor,
            "first_page": cursor is None,
        },
    )
