from __future__ import annotations

import hashlib
import uuid

from fastapi import APIRouter, Request, Response, status

from services.api.deps import (
    Client,
    CurrentPrincipal,
    Limiter,
    Redis,
    Session,
    SettingsDep,
    forget_sessions,
)
from services.api.problems import problems
from shared.access.principal import Principal
from shared.config import Settings
from shared.errors import Unauthorized
from shared.identity import password_reset, two_factor
from shared.identity import service as identity_service
from shared.identity import sessions as identity_sessions
from shared.identity.schemas import (
    AgencySecurityIn,
    AgencySecurityOut,
    ChallengeConfirmIn,
    ChallengeIn,
    ChangePasswordIn,
    CodeIn,
    DisableTwoFactorIn,
    EndSessionIn,
    EnrolledLoginOut,
    ForgotPasswordIn,
    ForgotPasswordOut,
    LoginIn,
    PasswordChanged,
    RecoveryCodesOut,
    RefreshIn,
    ResetPasswordIn,
    SessionList,
    SessionsEnded,
    SignUpIn,
    SignUpOut,
    TokenPair,
    TwoFactorChallenge,
    TwoFactorLoginIn,
    TwoFactorSetupOut,
    TwoFactorStatus,
)
from shared.ratelimit import Limit, RateLimiter

router = APIRouter(prefix="/v1/auth", tags=["auth"])

_SLOW_DOWN = "too many attempts; wait for the Retry-After seconds before trying again"


def rate_limits(settings: Settings) -> dict[str, Limit]:
    return {
        "login_account": Limit.of(
            "login_account", settings.rate_limit_login_per_account, _SLOW_DOWN
        ),
        "login_address": Limit.of(
            "login_address", settings.rate_limit_login_per_address, _SLOW_DOWN
        ),
        "refresh_address": Limit.of(
            "refresh_address", settings.rate_limit_refresh_per_address, _SLOW_DOWN
        ),
        "refresh_account": Limit.of(
            "refresh_account", settings.rate_limit_refresh_per_account, _SLOW_DOWN
        ),
        "reset_account": Limit.of(
            "reset_account", settings.rate_limit_login_per_account, _SLOW_DOWN
        ),
        "reset_address": Limit.of(
            "reset_address", settings.rate_limit_login_per_address, _SLOW_DOWN
        ),
        "two_factor_account": Limit.of(
            "two_factor_account", settings.rate_limit_login_per_account, _SLOW_DOWN
        ),
        "signup_address": Limit.of(
            "signup_address", settings.rate_limit_login_per_address, _SLOW_DOWN
        ),
        # Accepting an invitation for an existing account checks that account's password.
        "invitation_address": Limit.of(
            "invitation_address", settings.rate_limit_login_per_address, _SLOW_DOWN
        ),
        "invitation_token": Limit.of(
            "invitation_token", settings.rate_limit_login_per_account, _SLOW_DOWN
        ),
    }


async def hit_invitation_limits(
    limiter: RateLimiter, settings: Settings, ip: str | None, token: str
) -> None:
    """Accepting an invitation (API or page) counts like a login: per client address and per
    invitation, so a token's holder cannot try an existing account's passwords without end."""
    limits = rate_limits(settings)
    await limiter.hit(limits["invitation_address"], ip or "unknown")
    await limiter.hit(limits["invitation_token"], hashlib.sha256(token.encode()).hexdigest())


@router.post(
    "/signup",
    summary="Create an agency and its owner",
    status_code=status.HTTP_201_CREATED,
    responses=problems(409, 422, 429),
)
async def sign_up(
    data: SignUpIn, session: Session, settings: SettingsDep, client: Client, limiter: Limiter
) -> SignUpOut:
    await limiter.hit(rate_limits(settings)["signup_address"], client.ip or "unknown")
    agency, pair = await identity_service.sign_up(session, settings, data, client)
    return SignUpOut(agency_name=agency.name, **pair.model_dump())


@router.post(
    "/login",
    summary="Log in with email and password",
    description="Rate-limited per account and per client address (429 with Retry-After). "
    "With two-factor on (or required by the agency) the answer is a challenge "
    "(`two_factor_required`) to finish with POST /v1/auth/login/two-factor.",
    responses=problems(401, 422, 429),
)
async def log_in(
    data: LoginIn, session: Session, settings: SettingsDep, client: Client, limiter: Limiter
) -> TokenPair | TwoFactorChallenge:
    limits = rate_limits(settings)
    await limiter.hit(limits["login_address"], client.ip or "unknown")
    await limiter.hit(limits["login_account"], identity_service.normalize_email(str(data.email)))
    return await identity_service.log_in(session, settings, data, client)


@router.post(
    "/refresh",
    summary="Rotate a refresh token for a new token pair",
    description="The presented refresh token is spent. Presenting a spent token again revokes "
    "every token of that login. Rate-limited per account and per client address.",
    responses=problems(401, 422, 429),
)
async def refresh(
    data: RefreshIn, session: Session, settings: SettingsDep, client: Client, limiter: Limiter
) -> TokenPair:
    limits = rate_limits(settings)
    await limiter.hit(limits["refresh_address"], client.ip or "unknown")

    async def per_account(user_id: uuid.UUID) -> None:
        await limiter.hit(limits["refresh_account"], str(user_id))

    return await identity_service.refresh(
        session, settings, data.refresh_token, client, account_gate=per_account
    )


@router.post(
    "/logout",
    summary="Log out: end the session of this refresh token",
    description="Its refresh tokens stop working and its access tokens answer 401 at once.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(422),
)
async def log_out(data: RefreshIn, request: Request, session: Session) -> Response:
    ended = await identity_service.log_out(session, data.refresh_token)
    if ended is not None:
        forget_sessions(request, [ended])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _user(principal: Principal) -> tuple[uuid.UUID, uuid.UUID | None]:
    if principal.user_id is None:
        raise Unauthorized(
            "an API key has no sessions; these routes need a user's access token",
            code="not_a_user",
        )
    return principal.user_id, principal.session_id


@router.get(
    "/sessions",
    summary="List your sessions",
    description="Every live login of yours, in every agency, most recently used first; "
    "`current` marks the one this request comes from.",
    responses=problems(401),
)
async def list_sessions(session: Session, principal: CurrentPrincipal) -> SessionList:
    user_id, current = _user(principal)
    return SessionList(items=await identity_sessions.list_sessions(session, user_id, current))


@router.post(
    "/sessions/end",
    summary="End one of your sessions",
    description="Its refresh token stops working and its access tokens answer 401 at once "
    "(the current session too, which is a logout). Another user's session is 404.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404, 422),
)
async def end_session(
    data: EndSessionIn, request: Request, session: Session, principal: CurrentPrincipal
) -> Response:
    user_id, _ = _user(principal)
    await identity_sessions.end(session, user_id, data.session_id)
    forget_sessions(request, [data.session_id])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/sessions/end-others",
    summary="End all your other sessions",
    description="Every session of yours but the one this request comes from, in every agency.",
    responses=problems(401),
)
async def end_other_sessions(
    request: Request, session: Session, principal: CurrentPrincipal
) -> SessionsEnded:
    user_id, current = _user(principal)
    ended = await identity_sessions.revoke_all_but(session, user_id, keep=current)
    forget_sessions(request, ended)
    return SessionsEnded(ended=len(ended))


@router.post(
    "/password",
    summary="Change your password",
    description="Needs the current password. Every other session of yours, in every agency, "
    "ends at once; this one stays. Rate-limited like login.",
    responses=problems(401, 403, 422, 429),
)
async def change_password(
    data: ChangePasswordIn,
    request: Request,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    principal: CurrentPrincipal,
) -> PasswordChanged:
    user_id, current = _user(principal)
    await limiter.hit(rate_limits(settings)["login_account"], f"user:{user_id}")
    ended = await identity_service.change_password(
        session,
        agency_id=principal.agency_id,
        user_id=user_id,
        current_session=current,
        data=data,
    )
    forget_sessions(request, ended)
    return PasswordChanged(sessions_ended=len(ended))


@router.post(
    "/password/forgot",
    summary="Ask for a password-reset mail",
    description="Answers 202 the same whether or not an account has this address; an account "
    "gets a mail with a one-time link valid for 30 minutes (a new request replaces it). "
    "Rate-limited per address asked about and per client address, like login.",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(422, 429),
)
async def forgot_password(
    data: ForgotPasswordIn,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
    redis: Redis,
) -> ForgotPasswordOut:
    limits = rate_limits(settings)
    email = identity_service.normalize_email(str(data.email))
    await limiter.hit(limits["reset_address"], client.ip or "unknown")
    await limiter.hit(limits["reset_account"], email)
    await password_reset.request_reset(session, settings, redis, email, client.ip)
    return ForgotPasswordOut()


@router.post(
    "/password/reset",
    summary="Choose a new password with a reset link's token",
    description="The token works once and for 30 minutes. Every session of the account ends; "
    "log in with the new password.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(400, 422, 429),
)
async def reset_password(
    data: ResetPasswordIn,
    request: Request,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
) -> Response:
    await limiter.hit(rate_limits(settings)["reset_address"], client.ip or "unknown")
    ended = await password_reset.reset(session, data.token, data.new_password)
    forget_sessions(request, ended)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _second_step_gate(limiter: Limiter, settings: Settings, client: Client, key: str) -> None:
    limits = rate_limits(settings)
    await limiter.hit(limits["login_address"], client.ip or "unknown")
    await limiter.hit(limits["two_factor_account"], key)


@router.post(
    "/login/two-factor",
    summary="Finish a login with a two-factor code or a recovery code",
    description="Each code works once; so does each recovery code. Rate-limited like login.",
    responses=problems(401, 409, 422, 429),
)
async def log_in_two_factor(
    data: TwoFactorLoginIn,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
) -> TokenPair:
    challenge = two_factor.read_challenge(settings, data.challenge_token)
    await _second_step_gate(limiter, settings, client, str(challenge.user_id))
    return await identity_service.complete_two_factor_login(session, settings, data, client)


@router.post(
    "/login/two-factor/setup",
    summary="Set up two-factor during login (when the agency requires it)",
    description="With the login's challenge: a new authenticator secret, shown this once.",
    responses=problems(401, 409, 422, 429),
)
async def log_in_two_factor_setup(
    data: ChallengeIn, session: Session, settings: SettingsDep, client: Client, limiter: Limiter
) -> TwoFactorSetupOut:
    challenge = two_factor.read_challenge(settings, data.challenge_token)
    await _second_step_gate(limiter, settings, client, str(challenge.user_id))
    secret, uri = await identity_service.begin_enrolment_at_login(
        session, settings, data.challenge_token
    )
    return TwoFactorSetupOut(secret=secret, otpauth_uri=uri)


@router.post(
    "/login/two-factor/confirm",
    summary="Confirm the new authenticator and finish the login",
    description="Answers the tokens and the recovery codes (shown this once).",
    responses=problems(400, 401, 409, 422, 429),
)
async def log_in_two_factor_confirm(
    data: ChallengeConfirmIn,
    session: Session,
    settings: SettingsDep,
    client: Client,
    limiter: Limiter,
) -> EnrolledLoginOut:
    challenge = two_factor.read_challenge(settings, data.challenge_token)
    await _second_step_gate(limiter, settings, client, str(challenge.user_id))
    return await identity_service.confirm_enrolment_at_login(session, settings, data, client)


@router.get(
    "/two-factor",
    summary="Your two-factor status",
    responses=problems(401),
)
async def two_factor_status(session: Session, principal: CurrentPrincipal) -> TwoFactorStatus:
    user_id, _ = _user(principal)
    return TwoFactorStatus(
        enabled=await two_factor.is_enabled(session, user_id),
        recovery_codes_left=await two_factor.recovery_codes_left(session, user_id),
        required_by_agency=await two_factor.agency_requires(session, principal.agency_id),
    )


@router.post(
    "/two-factor/setup",
    summary="Start setting up an authenticator",
    description="A new secret and its otpauth:// URI (for a QR code), shown this once; "
    "confirm with a first code to turn two-factor on.",
    responses=problems(401, 409),
)
async def two_factor_setup(
    session: Session, settings: SettingsDep, principal: CurrentPrincipal
) -> TwoFactorSetupOut:
    user_id, _ = _user(principal)
    secret, uri = await two_factor.begin_setup(session, settings, user_id)
    return TwoFactorSetupOut(secret=secret, otpauth_uri=uri)


@router.post(
    "/two-factor/confirm",
    summary="Turn two-factor on with a first code",
    description="Answers ten recovery codes, shown this once.",
    responses=problems(400, 401, 409, 422, 429),
)
async def two_factor_confirm(
    data: CodeIn,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    principal: CurrentPrincipal,
) -> RecoveryCodesOut:
    user_id, _ = _user(principal)
    await limiter.hit(rate_limits(settings)["two_factor_account"], str(user_id))
    codes = await two_factor.confirm_setup(session, settings, user_id, data.code)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/two-factor/recovery-codes",
    summary="Replace your recovery codes",
    description="Needs a current code. Answers ten new codes, shown this once; the old ones "
    "stop working.",
    responses=problems(401, 409, 422, 429),
)
async def two_factor_recovery_codes(
    data: CodeIn,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    principal: CurrentPrincipal,
) -> RecoveryCodesOut:
    user_id, _ = _user(principal)
    await limiter.hit(rate_limits(settings)["two_factor_account"], str(user_id))
    codes = await two_factor.regenerate_recovery_codes(
        session, settings, principal, user_id, data.code
    )
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/two-factor/disable",
    summary="Turn two-factor off",
    description="Needs the password and a code (or a recovery code). Refused where the "
    "agency requires two-factor.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 409, 422, 429),
)
async def two_factor_disable(
    data: DisableTwoFactorIn,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    principal: CurrentPrincipal,
) -> Response:
    user_id, _ = _user(principal)
    await limiter.hit(rate_limits(settings)["two_factor_account"], str(user_id))
    await two_factor.disable(
        session,
        settings,
        principal,
        user_id,
        password=data.password,
        code=data.code,
        recovery_code=data.recovery_code,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/agency-policy",
    summary="The agency's sign-in policy",
    responses=problems(401),
    openapi_extra={"x-permission": "agency.read"},
)
async def agency_policy(session: Session, principal: CurrentPrincipal) -> AgencySecurityOut:
    return AgencySecurityOut(
        require_two_factor=await two_factor.agency_requires(session, principal.agency_id)
    )


@router.put(
    "/agency-policy",
    summary="Require two-factor sign-in in the agency (owners only)",
    description="Turning it on needs two-factor on for yourself, and ends at once the "
    "agency's sessions of everyone without it: they log in again and set it up.",
    responses=problems(401, 403, 409, 422),
    openapi_extra={"x-permission": "agency.update"},
)
async def set_agency_policy(
    data: AgencySecurityIn, request: Request, session: Session, principal: CurrentPrincipal
) -> AgencySecurityOut:
    ended = await two_factor.set_policy(
        session, principal, require_two_factor=data.require_two_factor
    )
    forget_sessions(request, ended)
    return AgencySecurityOut(require_two_factor=data.require_two_factor, sessions_ended=len(ended))
