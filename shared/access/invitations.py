"""Invitations: a signed, single-use, expiring token, mailed through the outbox."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from arq.connections import ArqRedis
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access import scopes
from shared.access.models import Invitation, Membership
from shared.access.policy import allowed, authorize_grant, reach
from shared.access.principal import Principal
from shared.access.roles import Role, ScopeType
from shared.access.schemas import InvitationAccept, InvitationCreate
from shared.agencies.models import Agency
from shared.audit import service as audit
from shared.brands.models import Brand
from shared.config import Settings
from shared.db.tenancy import set_tenant
from shared.errors import Conflict, FieldProblem, NotFound, Unauthorized, ValidationFailed
from shared.identity import passwords, tokens, two_factor
from shared.identity import service as identity_service
from shared.identity.models import User
from shared.identity.schemas import TokenPair, TwoFactorChallenge
from shared.ids import new_id
from shared.locations.models import Location
from shared.mail import service as mail
from shared.pagination import Slice, Sorting, sorted_page
from shared.tenancy import scoped

TOKEN_PREFIX = "cinv_"
_BAD_TOKEN = "this invitation link is not valid; ask for a new invitation"


def _sign(settings: Settings, payload: bytes) -> bytes:
    return hmac.new(tokens.derive_key(settings, "invite.v1"), payload, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(settings: Settings, agency_id: uuid.UUID, invitation_id: uuid.UUID) -> str:
    payload = agency_id.bytes + invitation_id.bytes + secrets.token_bytes(16)
    return f"{TOKEN_PREFIX}{_b64(payload)}.{_b64(_sign(settings, payload))}"


def read_token(settings: Settings, token: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The agency and invitation a token names, if its signature holds."""
    try:
        body, _, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
        payload = _unb64(body)
        if (
            not token.startswith(TOKEN_PREFIX)
            or len(payload) != 48
            or not hmac.compare_digest(_unb64(signature), _sign(settings, payload))
        ):
            raise ValueError
    except (ValueError, binascii.Error):
        raise Unauthorized(_BAD_TOKEN, code="invalid_invitation") from None
    return uuid.UUID(bytes=payload[:16]), uuid.UUID(bytes=payload[16:32])


def status_of(invitation: Invitation, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


async def invite(
    session: AsyncSession,
    settings: Settings,
    redis: ArqRedis | None,
    principal: Principal,
    data: InvitationCreate,
) -> Invitation:
    email = identity_service.normalize_email(str(data.email))
    scope = await scopes.resolve(session, principal, data.role, data.brand_id, data.location_id)
    authorize_grant(principal, data.role, scope.target, "member.invite")
    if await _already_member(session, principal.agency_id, email, data.role, scope):
        raise Conflict(
            f"{email} already has the role '{data.role.value}' there", code="already_member"
        )
    now = datetime.now(UTC)
    await session.execute(  # a new invitation supersedes a pending one for the same seat
        update(Invitation)
        .where(
            Invitation.agency_id == principal.agency_id,
            Invitation.email == email,
            Invitation.role == data.role.value,
            Invitation.scope_id.is_not_distinct_from(scope.id),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    invitation_id = new_id()
    token = make_token(settings, principal.agency_id, invitation_id)
    invitation = Invitation(
        agency_id=principal.agency_id,
        id=invitation_id,
        email=email,
        role=data.role.value,
        scope_type=scope.type.value,
        scope_id=scope.id,
        token_hash=hashlib.sha256(token.encode()).digest(),
        invited_by=principal.user_id,
        expires_at=now + timedelta(days=settings.invitation_ttl_days),
    )
    session.add(invitation)
    await session.flush()
    await session.refresh(invitation)
    mail.queue(
        session,
        redis,
        agency_id=principal.agency_id,
        to=email,
        subject="You are invited to Chorus",
        body=(
            f"You have been invited to Chorus as {data.role.value.replace('_', ' ')}.\n\n"
            f"Accept within {settings.invitation_ttl_days} days: "
            f"{settings.public_base_url}/accept-invitation?token={token}\n\n"
            f"(API: POST {settings.public_base_url}/v1/invitations/accept with this token.)\n"
            f"Invitation token: {token}\n"
        ),
        kind="invitation",
    )
    audit.record_by(
        session,
        principal,
        action="invitation.create",
        object_type="invitation",
        object_id=invitation.id,
        after=audit.snapshot(invitation, ["email", "role", "scope_type", "scope_id", "expires_at"]),
    )
    return invitation


async def _already_member(
    session: AsyncSession, agency_id: uuid.UUID, email: str, role: Role, scope: scopes.Scope
) -> bool:
    stmt = (
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.agency_id == agency_id,
            User.email == email,
            Membership.role == role.value,
            Membership.scope_id.is_not_distinct_from(scope.id),
        )
    )
    return (await session.execute(stmt)).first() is not None


SORTING = Sorting(
    default="created_at",
    fields={
        "created_at": Invitation.created_at,
        "expires_at": Invitation.expires_at,
        "email": Invitation.email,
        "role": Invitation.role,
    },
    tiebreak=Invitation.id,
)


async def list_invitations(
    session: AsyncSession,
    principal: Principal,
    *,
    sort: str = SORTING.default,
    limit: int,
    cursor: str | None,
    total: bool = False,
) -> Slice[Invitation]:
    stmt = scoped(Invitation, principal)
    r = reach(principal, "member.read")
    if not r.everything:
        in_brands = select(Location.id).where(
            Location.agency_id == principal.agency_id, Location.brand_id.in_(r.brand_ids)
        )
        stmt = stmt.where(
            (
                (Invitation.scope_type == ScopeType.BRAND.value)
                & Invitation.scope_id.in_(r.brand_ids)
            )
            | (
                (Invitation.scope_type == ScopeType.LOCATION.value)
                & (Invitation.scope_id.in_(r.location_ids) | Invitation.scope_id.in_(in_brands))
            )
        )
    return await sorted_page(
        session, stmt, SORTING, sort=sort, cursor=cursor, limit=limit, total=total
    )


async def revoke(
    session: AsyncSession, principal: Principal, invitation_id: uuid.UUID
) -> Invitation:
    invitation = (
        await session.execute(scoped(Invitation, principal).where(Invitation.id == invitation_id))
    ).scalar_one_or_none()
    if invitation is None:
        raise NotFound("invitation not found")
    scope = await scopes.target_of(
        session, principal, ScopeType(invitation.scope_type), invitation.scope_id
    )
    if not allowed(principal, "member.read", scope.target):
        raise NotFound("invitation not found")
    authorize_grant(principal, Role(invitation.role), scope.target, "member.invite")
    if invitation.accepted_at is not None:
        raise Conflict("this invitation was already accepted", code="invitation_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = datetime.now(UTC)
        audit.record_by(
            session,
            principal,
            action="invitation.revoke",
            object_type="invitation",
            object_id=invitation.id,
            details={"email": invitation.email},
        )
    await session.flush()
    return invitation


async def _pending(
    session: AsyncSession, settings: Settings, token: str, *, lock: bool
) -> Invitation:
    """The pending invitation a token names (the tenant set to its agency), or 401 saying
    why not: not valid, or accepted, revoked, expired."""
    agency_id, invitation_id = read_token(settings, token)
    await set_tenant(session, agency_id, None)
    stmt = select(Invitation).where(
        Invitation.agency_id == agency_id, Invitation.id == invitation_id
    )
    invitation = (
        await session.execute(stmt.with_for_update() if lock else stmt)
    ).scalar_one_or_none()
    digest = hashlib.sha256(token.encode()).digest()
    if invitation is None or not hmac.compare_digest(invitation.token_hash, digest):
        raise Unauthorized(_BAD_TOKEN, code="invalid_invitation")
    state = status_of(invitation)
    if state != "pending":
        raise Unauthorized(
            f"this invitation is {state}; ask for a new invitation", code=f"invitation_{state}"
        )
    return invitation


@dataclass(frozen=True, slots=True)
class InvitationPreview:
    """What a pending invitation offers, for the page its mailed link opens."""

    agency_name: str
    email: str
    role: Role
    scope_type: ScopeType
    scope_name: str | None
    """The brand's or location's name; None for an agency-wide role."""
    has_account: bool
    """An account with the invited address exists: accepting takes its password."""
    agency_requires_two_factor: bool


async def preview(session: AsyncSession, settings: Settings, token: str) -> InvitationPreview:
    """Makes accept's checks of the token without spending it (mail scanners open links
    too) and reads what the invitation offers. Writes nothing."""
    invitation = await _pending(session, settings, token, lock=False)
    agency_id = invitation.agency_id
    scope_type = ScopeType(invitation.scope_type)
    scope_name: str | None = None
    if scope_type is ScopeType.BRAND:
        scope_name = await session.scalar(
            select(Brand.name).where(Brand.agency_id == agency_id, Brand.id == invitation.scope_id)
        )
    elif scope_type is ScopeType.LOCATION:
        scope_name = await session.scalar(
            select(Location.name).where(
                Location.agency_id == agency_id, Location.id == invitation.scope_id
            )
        )
    agency_name = await session.scalar(select(Agency.name).where(Agency.id == agency_id))
    has_account = await session.scalar(select(User.id).where(User.email == invitation.email))
    return InvitationPreview(
        agency_name=agency_name or "",
        email=invitation.email,
        role=Role(invitation.role),
        scope_type=scope_type,
        scope_name=scope_name,
        has_account=has_account is not None,
        agency_requires_two_factor=await two_factor.agency_requires(session, agency_id),
    )


async def accept(
    session: AsyncSession,
    settings: Settings,
    data: InvitationAccept,
    client: identity_service.ClientInfo,
) -> TokenPair | TwoFactorChallenge:
    """Creates the account (or checks the existing account's password), adds the
    membership, spends the invitation, and signs the user in to the agency (or answers the
    two-factor challenge that finishes it, as a login would)."""
    invitation = await _pending(session, settings, data.token, lock=True)
    agency_id = invitation.agency_id
    user = (
        await session.execute(select(User).where(User.email == invitation.email))
    ).scalar_one_or_none()
    if user is None:
        if not data.full_name:
            message = "full_name is needed to create your account"
            raise ValidationFailed(
                message, errors=[FieldProblem("body.full_name", message, "required")]
            )
        problem = passwords.password_problem(data.password, invitation.email)
        if problem:
            raise ValidationFailed(problem, errors=[FieldProblem("body.password", problem, "weak")])
        user = User(
            id=new_id(),
            email=invitation.email,
            full_name=data.full_name.strip(),
            password_hash=passwords.hash_password(data.password),
        )
        session.add(user)
        await session.flush()
    elif not passwords.verify_password(user.password_hash, data.password):
        raise Unauthorized(
            "an account with this email exists: send its password to accept",
            code="invalid_credentials",
        )
    await set_tenant(session, agency_id, user.id)
    await session.execute(
        insert(Membership)
        .values(
            agency_id=agency_id,
            id=new_id(),
            user_id=user.id,
            role=invitation.role,
            scope_type=invitation.scope_type,
            scope_id=invitation.scope_id,
        )
        .on_conflict_do_nothing()
    )
    now = datetime.now(UTC)
    invitation.accepted_at = now
    invitation.accepted_user_id = user.id
    user.last_login_at = now
    audit.record(
        session,
        agency_id=agency_id,
        actor=audit.Actor("user", user.id),
        action="invitation.accept",
        object_type="invitation",
        object_id=invitation.id,
        details={"role": invitation.role, "scope_id": invitation.scope_id},
    )
    # The invitation is spent and the membership made either way; a person with two-factor on,
    # or joining an agency that requires it, finishes signing in like a login does.
    challenge = await identity_service.second_factor_challenge(
        session, settings, user.id, agency_id
    )
    if challenge is not None:
        return challenge
    return await identity_service.issue_pair(
        session, settings, user_id=user.id, agency_id=agency_id, family_id=new_id(), client=client
    )
