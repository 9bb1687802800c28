"""Optional TOTP two-factor authentication with single-use recovery codes, and the owner's
setting that makes it required in an agency.

Secrets: the TOTP secret is shown once (at set-up) and sealed at rest with the token key
ring, bound to its user; recovery codes are shown once (at confirmation) and stored as
SHA-256 digests. None of them is ever logged.

Sign-in: when the person has two-factor on, or the agency they sign in to requires it, the
password step answers a short-lived challenge instead of tokens (``two_factor_required``);
the code (or a recovery code) then completes the login. Someone the agency requires it of
who has none yet sets it up with that challenge before any session exists."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access import repository as access_repository
from shared.access.principal import Principal
from shared.access.roles import Role
from shared.audit import service as audit
from shared.config import Settings
from shared.crypto import Binding, decrypt, encrypt, keyring_from_settings
from shared.db.tenancy import set_tenant
from shared.errors import BadRequest, Conflict, Forbidden, Unauthorized
from shared.identity import passwords, totp
from shared.identity.models import AgencySecurity, RecoveryCode, RefreshToken, TwoFactor, User
from shared.identity.tokens import decode_on_clock, derive_key

SECRET_PURPOSE = "user.totp_secret"
RECOVERY_CODES = 10
CHALLENGE_TTL = timedelta(minutes=5)
CHALLENGE_TYPE = "2fa_challenge"


class WrongCode(Unauthorized):
    keep_changes = True  # a spent recovery code or a failed-attempt audit must stand


@dataclass(frozen=True, slots=True)
class Challenge:
    user_id: uuid.UUID
    agency_id: uuid.UUID


def _binding(user_id: uuid.UUID) -> Binding:
    return Binding(purpose=SECRET_PURPOSE, agency_id="user", owner_id=user_id)


def _code_digest(code: str) -> bytes:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"chorus.recovery.{normalized}".encode()).digest()


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits, 16 chars
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


# Challenges ---------------------------------------------------------------------------------


def issue_challenge(settings: Settings, user_id: uuid.UUID, agency_id: uuid.UUID) -> str:
    now = clock.now()
    claims = {
        "sub": str(user_id),
        "aid": str(agency_id),
        "typ": CHALLENGE_TYPE,
        "iat": int(now.timestamp()),
        "exp": int((now + CHALLENGE_TTL).timestamp()),
    }
    return jwt.encode(claims, derive_key(settings, "2fa_challenge.v1"), algorithm="HS256")


def read_challenge(settings: Settings, token: str) -> Challenge:
    try:
        claims = decode_on_clock(
            token,
            derive_key(settings, "2fa_challenge.v1"),
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "aid", "typ"]},
        )
        if claims["typ"] != CHALLENGE_TYPE:
            raise ValueError
        return Challenge(uuid.UUID(claims["sub"]), uuid.UUID(claims["aid"]))
    except jwt.ExpiredSignatureError:
        raise Unauthorized(
            "the sign-in step expired; log in with your password again", code="challenge_expired"
        ) from None
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        raise Unauthorized("the sign-in challenge is not valid", code="invalid_token") from None


# State --------------------------------------------------------------------------------------


async def is_enabled(session: AsyncSession, user_id: uuid.UUID) -> bool:
    row = await session.scalar(select(TwoFactor.confirmed_at).where(TwoFactor.user_id == user_id))
    return row is not None


async def recovery_codes_left(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


async def agency_requires(session: AsyncSession, agency_id: uuid.UUID) -> bool:
    """Needs the tenant set to ``agency_id`` (row-level security)."""
    required = await session.scalar(
        select(AgencySecurity.require_two_factor).where(AgencySecurity.agency_id == agency_id)
    )
    return bool(required)


# Enrolment ----------------------------------------------------------------------------------


async def begin_setup(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> tuple[str, str]:
    """A new secret (replacing one not yet confirmed): returns it and its otpauth URI."""
    user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
    if await is_enabled(session, user_id):
        raise Conflict(
            "two-factor authentication is already on; turn it off first to set up another "
            "authenticator",
            code="two_factor_already_enabled",
        )
    secret = totp.new_secret()
    sealed = encrypt(secret, _binding(user_id), keyring_from_settings(settings))
    stmt = pg_insert(TwoFactor).values(user_id=user_id, secret=sealed)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[TwoFactor.user_id],
            set_={"secret": sealed, "confirmed_at": None, "last_step": None},
        )
    )
    return secret, totp.provisioning_uri(secret, user.email)


async def confirm_setup(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID, code: str
) -> list[str]:
    """Turns two-factor on with a first code; returns the recovery codes, shown this once."""
    row = (
        await session.execute(
            select(TwoFactor).where(TwoFactor.user_id == user_id).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise Conflict(
            "no authenticator is being set up; start with POST /v1/auth/two-factor/setup",
            code="two_factor_not_set_up",
        )
    if row.confirmed_at is not None:
        raise Conflict("two-factor authentication is already on", code="two_factor_already_enabled")
    step = _step_for(settings, row, code)
    if step is None:
        raise BadRequest(
            "the code does not match; check the authenticator's clock and try the current code",
            code="invalid_two_factor_code",
        )
    row.confirmed_at = datetime.now(UTC)
    row.last_step = step
    return await _replace_recovery_codes(session, user_id)


async def _replace_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    await session.execute(
        insert(RecoveryCode), [{"user_id": user_id, "code_hash": _code_digest(c)} for c in codes]
    )
    return codes


def _step_for(settings: Settings, row: TwoFactor, code: str) -> int | None:
    secret = decrypt(row.secret, _binding(row.user_id), keyring_from_settings(settings))
    return totp.matching_step(secret.reveal(), code)


# Verification -------------------------------------------------------------------------------


async def verify(
    session: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    *,
    code: str | None,
    recovery_code: str | None,
) -> str:
    """Checks a current TOTP code (each one works once) or spends a recovery code; returns
    which was used. Raises WrongCode otherwise."""
    row = (
        await session.execute(
            select(TwoFactor).where(TwoFactor.user_id == user_id).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.confirmed_at is None:
        raise Conflict(
            "two-factor authentication is not on for this account", code="two_factor_not_enabled"
        )
    if code:
        step = _step_for(settings, row, code)
        if step is not None and (row.last_step is None or step > row.last_step):
            row.last_step = step
            return "totp"
    elif recovery_code:
        spent = await session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == _code_digest(recovery_code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=datetime.now(UTC))
            .returning(RecoveryCode.user_id)
        )
        if spent.first() is not None:
            return "recovery_code"
    raise WrongCode(
        "the two-factor code is wrong, already used, or expired", code="invalid_two_factor_code"
    )


async def regenerate_recovery_codes(
    session: AsyncSession, settings: Settings, principal: Principal, user_id: uuid.UUID, code: str
) -> list[str]:
    """A fresh set of recovery codes for a current code; the old set stops working."""
    await verify(session, settings, user_id, code=code, recovery_code=None)
    codes = await _replace_recovery_codes(session, user_id)
    audit.record_by(
        session,
        principal,
        action="auth.recovery_codes_regenerate",
        object_type="user",
        object_id=user_id,
    )
    return codes


async def disable(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    user_id: uuid.UUID,
    *,
    password: str,
    code: str | None,
    recovery_code: str | None,
) -> None:
    if await _required_anywhere(session, user_id):
        raise Conflict(
            "an agency you belong to requires two-factor authentication; it cannot be turned off",
            code="two_factor_required_by_agency",
        )
    user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
    if not passwords.verify_password(user.password_hash, password):
        raise Forbidden("the password is wrong", code="wrong_password")
    await verify(session, settings, user_id, code=code, recovery_code=recovery_code)
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    await session.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id))
    audit.record_by(
        session, principal, action="auth.two_factor_disable", object_type="user", object_id=user_id
    )


async def _required_anywhere(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether any agency of the user requires two-factor (each read under its own tenant);
    the request's tenant is set back afterwards."""
    agency_before = await session.scalar(text("SELECT current_setting('app.agency_id', true)"))
    try:
        await set_tenant(session, None, user_id)
        for agency_id in await access_repository.agencies_of_user(session, user_id):
            await set_tenant(session, agency_id, user_id)
            if await agency_requires(session, agency_id):
                return True
        return False
    finally:
        await set_tenant(session, uuid.UUID(agency_before) if agency_before else None, user_id)


# The agency's policy ------------------------------------------------------------------------


def _require_owner(principal: Principal) -> None:
    if not any(g.role is Role.OWNER for g in principal.grants):
        raise Forbidden(
            "only an owner of the agency can change its sign-in policy", code="owner_only"
        )


async def set_policy(
    session: AsyncSession, principal: Principal, *, require_two_factor: bool
) -> list[uuid.UUID]:
    """Sets whether the agency requires two-factor sign-in. Turning it on ends, at once, the
    agency's sessions of everyone without two-factor on (they sign in again and set it up);
    returns those sessions."""
    _require_owner(principal)
    assert principal.user_id is not None
    if require_two_factor and not await is_enabled(session, principal.user_id):
        raise Conflict(
            "turn on two-factor authentication for yourself first (POST /v1/auth/two-factor/setup)",
            code="two_factor_not_enabled",
        )
    stmt = pg_insert(AgencySecurity).values(
        agency_id=principal.agency_id,
        require_two_factor=require_two_factor,
        updated_by=principal.user_id,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AgencySecurity.agency_id],
            set_={
                "require_two_factor": require_two_factor,
                "updated_by": principal.user_id,
                "updated_at": func.now(),
            },
        )
    )
    audit.record_by(
        session,
        principal,
        action="agency.security_update",
        object_type="agency",
        object_id=principal.agency_id,
        after={"require_two_factor": require_two_factor},
    )
    if not require_two_factor:
        return []
    enrolled = select(TwoFactor.user_id).where(TwoFactor.confirmed_at.is_not(None))
    ended = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.agency_id == principal.agency_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.user_id.not_in(enrolled),
        )
        .values(revoked_at=datetime.now(UTC))
        .returning(RefreshToken.family_id)
    )
    return sorted(set(ended.scalars().all()))
