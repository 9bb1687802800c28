"""Sign-up, login, refresh-token rotation and logout. Flushes only; the boundary commits."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access import repository as access_repository
from shared.access.roles import Role
from shared.agencies.models import Agency
from shared.audit import service as audit
from shared.config import Settings
from shared.db.tenancy import set_tenant
from shared.errors import Conflict, FieldProblem, Forbidden, Unauthorized, ValidationFailed
from shared.identity import passwords, sessions, tokens, two_factor
from shared.identity.models import RefreshToken, User
from shared.identity.schemas import (
    ChallengeConfirmIn,
    ChangePasswordIn,
    EnrolledLoginOut,
    LoginIn,
    SignUpIn,
    TokenPair,
    TwoFactorChallenge,
    TwoFactorLoginIn,
)
from shared.ids import new_id


class InvalidCredentials(Unauthorized):
    keep_changes = True  # the failed-login audit events must stand


class RefreshTokenReused(Unauthorized):
    keep_changes = True


class SessionEnded(Unauthorized):
    keep_changes = True


class WrongPassword(Forbidden):
    keep_changes = True  # the failed attempt's audit event must stand


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None = None


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def issue_pair(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    agency_id: uuid.UUID,
    family_id: uuid.UUID,
    client: ClientInfo,
) -> TokenPair:
    now = clock.now()
    refresh, digest = tokens.new_refresh_token()
    refresh_expires = now + timedelta(days=settings.refresh_token_ttl_days)
    session.add(
        RefreshToken(
            user_id=user_id,
            agency_id=agency_id,
            family_id=family_id,
            token_hash=digest,
            expires_at=refresh_expires,
            created_ip=client.ip,
        )
    )
    await session.flush()
    access, access_expires = tokens.issue_access_token(
        settings, user_id=user_id, agency_id=agency_id, session_id=family_id, now=now
    )
    return TokenPair(
        access_token=access,
        access_token_expires_at=access_expires,
        refresh_token=refresh,
        refresh_token_expires_at=refresh_expires,
        agency_id=agency_id,
        user_id=user_id,
    )


async def sign_up(
    session: AsyncSession, settings: Settings, data: SignUpIn, client: ClientInfo
) -> tuple[Agency, TokenPair]:
    email = normalize_email(str(data.email))
    problem = passwords.password_problem(data.password, email)
    if problem:
        raise ValidationFailed(problem, errors=[FieldProblem("body.password", problem, "weak")])
    if await _user_by_email(session, email) is not None:
        raise Conflict(
            "an account with this email already exists; log in instead", code="email_taken"
        )
    user = User(
        id=new_id(),
        email=email,
        full_name=data.full_name.strip(),
        password_hash=passwords.hash_password(data.password),
        last_login_at=datetime.now(UTC),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(
            "an account with this email already exists; log in instead", code="email_taken"
        ) from None
    agency = Agency(id=new_id(), name=data.agency_name.strip())
    await set_tenant(session, agency.id, user.id)
    session.add(agency)
    await session.flush()
    await access_repository.add_membership(
        session, agency_id=agency.id, user_id=user.id, role=Role.OWNER
    )
    audit.record(
        session,
        agency_id=agency.id,
        actor=audit.Actor("user", user.id),
        action="agency.create",
        object_type="agency",
        object_id=agency.id,
        after={"name": agency.name, "owner_email": user.email},
    )
    pair = await issue_pair(
        session, settings, user_id=user.id, agency_id=agency.id, family_id=new_id(), client=client
    )
    return agency, pair


async def _user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email))
    return result.scalar_one_or_none()


_BAD_LOGIN = "email or password is wrong"


async def log_in(
    session: AsyncSession, settings: Settings, data: LoginIn, client: ClientInfo
) -> TokenPair | TwoFactorChallenge:
    """Tokens, or a two-factor challenge when the person has two-factor on or the agency
    requires it (then ``complete_two_factor_login`` or the enrolment steps finish it)."""
    email = normalize_email(str(data.email))
    user = await _user_by_email(session, email)
    if not passwords.verify_password(user.password_hash if user else None, data.password):
        if user is not None:
            await _record_failed_login(session, user)
        raise InvalidCredentials(_BAD_LOGIN, code="invalid_credentials")
    assert user is not None
    if not user.is_active:
        raise Unauthorized("this account is deactivated", code="account_disabled")
    await set_tenant(session, None, user.id)
    agencies = await access_repository.agencies_of_user(session, user.id)
    if data.agency_id is not None:
        if data.agency_id not in agencies:
            raise Unauthorized("you are not a member of that agency", code="not_a_member")
        agency_id = data.agency_id
    elif agencies:
        agency_id = agencies[0]
    else:
        raise Unauthorized("this account belongs to no agency", code="not_a_member")
    user.last_login_at = datetime.now(UTC)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(data.password)
    await set_tenant(session, agency_id, user.id)
    challenge = await second_factor_challenge(session, settings, user.id, agency_id)
    if challenge is not None:
        return challenge
    return await _finish_login(session, settings, user.id, agency_id, client, None)


async def second_factor_challenge(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID, agency_id: uuid.UUID
) -> TwoFactorChallenge | None:
    """The challenge a person who gave the right password must still answer before tokens are
    issued: when they have two-factor on, or the agency requires it (then they set it up
    first). None: the password was enough. Every way in with a password asks this."""
    enabled = await two_factor.is_enabled(session, user_id)
    if not enabled and not await two_factor.agency_requires(session, agency_id):
        return None
    return TwoFactorChallenge(
        enrolment_required=not enabled,
        challenge_token=two_factor.issue_challenge(settings, user_id, agency_id),
        challenge_expires_at=clock.now() + two_factor.CHALLENGE_TTL,
    )


async def _finish_login(
    session: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    agency_id: uuid.UUID,
    client: ClientInfo,
    second_factor: str | None,
) -> TokenPair:
    audit.record(
        session,
        agency_id=agency_id,
        actor=audit.Actor("user", user_id),
        action="auth.login",
        object_type="user",
        object_id=user_id,
        details={"second_factor": second_factor} if second_factor else None,
    )
    return await issue_pair(
        session, settings, user_id=user_id, agency_id=agency_id, family_id=new_id(), client=client
    )


async def _challenged_user(
    session: AsyncSession, settings: Settings, challenge_token: str
) -> two_factor.Challenge:
    """The challenge's person, still active and still a member of its agency."""
    challenge = two_factor.read_challenge(settings, challenge_token)
    user = (
        await session.execute(select(User).where(User.id == challenge.user_id))
    ).scalar_one_or_none()
    if user is None or not user.is_active:
        raise Unauthorized("this account is deactivated", code="account_disabled")
    await set_tenant(session, challenge.agency_id, challenge.user_id)
    grants = await access_repository.load_grants(session, challenge.agency_id, challenge.user_id)
    if not grants:
        raise Unauthorized("you are not a member of that agency", code="not_a_member")
    return challenge


async def complete_two_factor_login(
    session: AsyncSession, settings: Settings, data: TwoFactorLoginIn, client: ClientInfo
) -> TokenPair:
    challenge = await _challenged_user(session, settings, data.challenge_token)
    if not data.code and not data.recovery_code:
        message = "send `code` (from the authenticator) or `recovery_code`"
        raise ValidationFailed(message, errors=[FieldProblem("body.code", message, "missing")])
    try:
        method = await two_factor.verify(
            session,
            settings,
            challenge.user_id,
            code=data.code,
            recovery_code=data.recovery_code,
        )
    except two_factor.WrongCode:
        audit.record(
            session,
            agency_id=challenge.agency_id,
            actor=audit.Actor("user", challenge.user_id),
            action="auth.login_failed",
            object_type="user",
            object_id=challenge.user_id,
            details={"step": "two_factor"},
        )
        raise
    return await _finish_login(
        session, settings, challenge.user_id, challenge.agency_id, client, method
    )


async def begin_enrolment_at_login(
    session: AsyncSession, settings: Settings, challenge_token: str
) -> tuple[str, str]:
    challenge = await _challenged_user(session, settings, challenge_token)
    return await two_factor.begin_setup(session, settings, challenge.user_id)


async def confirm_enrolment_at_login(
    session: AsyncSession, settings: Settings, data: ChallengeConfirmIn, client: ClientInfo
) -> EnrolledLoginOut:
    challenge = await _challenged_user(session, settings, data.challenge_token)
    codes = await two_factor.confirm_setup(session, settings, challenge.user_id, data.code)
    pair = await _finish_login(
        session, settings, challenge.user_id, challenge.agency_id, client, "totp"
    )
    return EnrolledLoginOut(recovery_codes=codes, **pair.model_dump())


async def _record_failed_login(session: AsyncSession, user: User) -> None:
    """In every agency the user belongs to: their admins see attempts on their people."""
    await set_tenant(session, None, user.id)
    for agency_id in await access_repository.agencies_of_user(session, user.id):
        await set_tenant(session, agency_id, user.id)
        audit.record(
            session,
            agency_id=agency_id,
            actor=audit.Actor("user", user.id),
            action="auth.login_failed",
            object_type="user",
            object_id=user.id,
        )
        await session.flush()


async def refresh(
    session: AsyncSession,
    settings: Settings,
    refresh_token: str,
    client: ClientInfo,
    *,
    account_gate: Callable[[uuid.UUID], Awaitable[None]] | None = None,
) -> TokenPair:
    """Rotate: the presented token is spent and a new one of the same family is issued.
    A spent token presented again means it leaked: the whole family is revoked.

    ``account_gate`` runs once the token's account is known (the per-account rate limit)."""
    digest = tokens.refresh_token_digest(refresh_token)
    stmt = select(RefreshToken).where(RefreshToken.token_hash == digest).with_for_update()
    current = (await session.execute(stmt)).scalar_one_or_none()
    now = clock.now()
    if current is None or current.revoked_at is not None:
        raise Unauthorized("refresh token is not valid; log in again", code="invalid_token")
    if account_gate is not None:
        await account_gate(current.user_id)
    if current.used_at is not None:
        await revoke_family(session, current.user_id, current.family_id)
        raise RefreshTokenReused(
            "refresh token was already used; every session of this login is now signed out",
            code="refresh_token_reused",
        )
    if current.expires_at <= now:
        raise Unauthorized("refresh token expired; log in again", code="token_expired")
    await set_tenant(session, current.agency_id, current.user_id)
    grants = await access_repository.load_grants(session, current.agency_id, current.user_id)
    if not grants:
        await revoke_family(session, current.user_id, current.family_id)
        raise SessionEnded(
            "you no longer have access to this agency; log in again", code="not_a_member"
        )
    if await two_factor.agency_requires(
        session, current.agency_id
    ) and not await two_factor.is_enabled(session, current.user_id):
        # a session begun before the agency required it (or before the person's second
        # factor was removed) ends here
        await revoke_family(session, current.user_id, current.family_id)
        raise SessionEnded(
            "this agency requires two-factor sign-in; log in again to set it up",
            code="two_factor_enrolment_required",
        )
    current.used_at = now
    return await issue_pair(
        session,
        settings,
        user_id=current.user_id,
        agency_id=current.agency_id,
        family_id=current.family_id,
        client=client,
    )


async def log_out(session: AsyncSession, refresh_token: str) -> uuid.UUID | None:
    """Ends the session the refresh token belongs to; returns its id (None: no such token)."""
    digest = tokens.refresh_token_digest(refresh_token)
    current = (
        await session.execute(select(RefreshToken).where(RefreshToken.token_hash == digest))
    ).scalar_one_or_none()
    if current is None:
        return None
    await revoke_family(session, current.user_id, current.family_id)
    return current.family_id


async def revoke_family(session: AsyncSession, user_id: uuid.UUID, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.family_id == family_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=datetime.now(UTC))
    )


async def revoke_all_for_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def _check_new_password(password: str, email: str) -> None:
    problem = passwords.password_problem(password, email)
    if problem:
        raise ValidationFailed(problem, errors=[FieldProblem("body.new_password", problem, "weak")])


async def change_password(
    session: AsyncSession,
    *,
    agency_id: uuid.UUID,
    user_id: uuid.UUID,
    current_session: uuid.UUID | None,
    data: ChangePasswordIn,
) -> list[uuid.UUID]:
    """Sets a new password given the current one, and ends every other session of the user
    (in every agency): whoever else held a login is signed out. Returns the ended sessions."""
    user = (
        await session.execute(select(User).where(User.id == user_id).with_for_update())
    ).scalar_one()
    actor = audit.Actor("user", user.id)
    if not passwords.verify_password(user.password_hash, data.current_password):
        audit.record(
            session,
            agency_id=agency_id,
            actor=actor,
            action="auth.password_change_failed",
            object_type="user",
            object_id=user.id,
        )
        raise WrongPassword(
            "the current password is wrong; the password was not changed",
            code="wrong_password",
        )
    _check_new_password(data.new_password, user.email)
    if data.new_password == data.current_password:
        message = "the new password must differ from the current one"
        raise ValidationFailed(
            message, errors=[FieldProblem("body.new_password", message, "unchanged")]
        )
    user.password_hash = passwords.hash_password(data.new_password)
    ended = await sessions.revoke_all_but(session, user.id, keep=current_session)
    audit.record(
        session,
        agency_id=agency_id,
        actor=actor,
        action="auth.password_change",
        object_type="user",
        object_id=user.id,
        details={"sessions_ended": len(ended)},
    )
    return ended
