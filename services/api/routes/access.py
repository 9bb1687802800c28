"""Me, members, invitations and API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from services.api.deps import (
    DEFAULT_PAGE_SIZE,
    Client,
    CurrentPrincipal,
    Cursor,
    Limit,
    Limiter,
    Redis,
    Session,
    SettingsDep,
)
from services.api.listing import Include, sort_by, wants_total
from services.api.problems import problems
from services.api.routes import auth as auth_routes
from shared.access import api_keys, invitations, members
from shared.access.models import Invitation
from shared.access.roles import Role
from shared.access.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    InvitationAccept,
    InvitationCreate,
    InvitationOut,
    MembershipOut,
    MembershipUpdate,
)
from shared.billing import service as billing_service
from shared.billing.schemas import MeWithBilling
from shared.identity.schemas import TokenPair, TwoFactorChallenge
from shared.pagination import Page

router = APIRouter(prefix="/v1", tags=["access"])


@router.get(
    "/me", summary="Who am I: user, agencies, roles and permissions", responses=problems(401)
)
async def get_me(
    session: Session, settings: SettingsDep, principal: CurrentPrincipal
) -> MeWithBilling:
    me = await members.me(session, principal)
    # Billing (issue #8): the banner the portal shows (payment failed, read-only).
    banner = await billing_service.banner(session, settings, principal.agency_id)
    return MeWithBilling(**me.model_dump(), billing=banner)


@router.get(
    "/members",
    summary="List memberships you may see",
    responses=problems(400, 401, 422),
    openapi_extra={"x-permission": "member.read"},
)
async def list_members(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(members.SORTING))],
    user_id: uuid.UUID | None = None,
    role: Role | None = None,
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[MembershipOut]:
    page = await members.list_members(
        session,
        principal,
        members.MemberFilter(
            user_id=user_id, role=role, brand_id=brand_id, location_id=location_id
        ),
        sort=sort,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[MembershipOut](items=page.items, next_cursor=page.next_cursor, total=page.total)


@router.patch(
    "/members/{membership_id}",
    summary="Change a member's role",
    description="Only to a role of the same scope kind, never above your own; the last owner "
    "stays an owner.",
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "member.update"},
)
async def change_member_role(
    membership_id: uuid.UUID,
    data: MembershipUpdate,
    session: Session,
    principal: CurrentPrincipal,
) -> MembershipOut:
    return await members.change_role(session, principal, membership_id, data.role)


@router.delete(
    "/members/{membership_id}",
    summary="Remove a membership",
    description="A user left with no membership in the agency is signed out of it at once.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409),
    openapi_extra={"x-permission": "member.remove"},
)
async def remove_member(
    membership_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> Response:
    await members.remove(session, principal, membership_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _invitation_out(invitation: Invitation) -> InvitationOut:
    return InvitationOut.model_validate(
        {**invitation.__dict__, "status": invitations.status_of(invitation)}
    )


@router.post(
    "/invitations",
    summary="Invite someone by email to a role",
    description="Mails a single-use link that expires. Agency roles take no ids, brand roles "
    "a brand_id, location roles a location_id. You cannot invite above your own role.",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "member.invite"},
)
async def create_invitation(
    data: InvitationCreate,
    session: Session,
    settings: SettingsDep,
    redis: Redis,
    principal: CurrentPrincipal,
) -> InvitationOut:
    invitation = await invitations.invite(session, settings, redis, principal, data)
    return _invitation_out(invitation)


@router.get(
    "/invitations",
    summary="List invitations you may see",
    responses=problems(400, 401, 422),
    openapi_extra={"x-permission": "member.read"},
)
async def list_invitations(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(invitations.SORTING))],
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[InvitationOut]:
    page = await invitations.list_invitations(
        session, principal, sort=sort, limit=limit, cursor=cursor, total=wants_total(include)
    )
    return Page[InvitationOut](
        items=[_invitation_out(i) for i in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.delete(
    "/invitations/{invitation_id}",
    summary="Revoke an invitation",
    responses=problems(401, 403, 404, 409),
    openapi_extra={"x-permission": "member.invite"},
)
async def revoke_invitation(
    invitation_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> InvitationOut:
    return _invitation_out(await invitations.revoke(session, principal, invitation_id))


@router.post(
    "/invitations/accept",
    summary="Accept an invitation (no login needed)",
    description="Creates the account (send full_name and a new password) or, for an existing "
    "account, checks its password; then signs you in to the inviting agency. With two-factor "
    "on, or when the agency requires it, the answer is a challenge (`two_factor_required`) to "
    "finish as a login's is: POST /v1/auth/login/two-factor, or set it up first with "
    "POST /v1/auth/login/two-factor/setup (the invitation is accepted either way).",
    responses=problems(401, 422, 429),
)
async def accept_invitation(
    data: InvitationAccept,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
) -> TokenPair | TwoFactorChallenge:
    await auth_routes.hit_invitation_limits(limiter, settings, client.ip, data.token)
    return await invitations.accept(session, settings, data, client)


@router.post(
    "/api-keys",
    summary="Create an API key (the secret is shown once)",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422),
    openapi_extra={"x-permission": "api_key.manage"},
)
async def create_api_key(
    data: ApiKeyCreate, session: Session, principal: CurrentPrincipal
) -> ApiKeyCreated:
    api_key, secret = await api_keys.create(session, principal, data)
    return ApiKeyCreated.model_validate({**api_key.__dict__, "key": secret})


@router.get(
    "/api-keys",
    summary="List API keys (never their secrets)",
    responses=problems(400, 401, 403, 422),
    openapi_extra={"x-permission": "api_key.read"},
)
async def list_api_keys(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(api_keys.SORTING))],
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[ApiKeyOut]:
    page = await api_keys.list_keys(
        session, principal, sort=sort, limit=limit, cursor=cursor, total=wants_total(include)
    )
    return Page[ApiKeyOut](
        items=[ApiKeyOut.model_validate(k) for k in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.delete(
    "/api-keys/{api_key_id}",
    summary="Revoke an API key",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "api_key.manage"},
)
async def revoke_api_key(
    api_key_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> ApiKeyOut:
    return ApiKeyOut.model_validate(await api_keys.revoke(session, principal, api_key_id))
