from __future__ import annotations

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
from shared.identity import password_reset
from shared.identity import service as identity_service
from shared.identity import sessions as identity_sessions
from shared.identity.schemas import (
    ChangePasswordIn,
    EndSessionIn,
    ForgotPasswordIn,
    ForgotPasswordOut,
    LoginIn,
    PasswordChanged,
    RefreshIn,
    ResetPasswordIn,
    SessionList,
    SessionsEnded,
    SignUpIn,
    SignUpOut,
    TokenPair,
)
from shared.ratelimit import Limit

router = APIRouter(prefix="/v1/auth", tags=["auth"])

_SLOW_DOWN = "too many attempts; wait for the Retry-After seconds before trying again"


def _limits(settings: Settings) -> dict[str, Limit]:
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
        "signup_address": Limit.of(
            "signup_address", settings.rate_limit_login_per_address, _SLOW_DOWN
        ),
    }


@router.post(
    "/signup",
    summary="Create an agency and its owner",
    status_code=status.HTTP_201_CREATED,
    responses=problems(409, 422, 429),
)
async def sign_up(
    data: SignUpIn, session: Session, settings: SettingsDep, client: Client, limiter: Limiter
) -> SignUpOut:
    await limiter.hit(_limits(settings)["signup_address"], client.ip or "unknown")
    agency, pair = await identity_service.sign_up(session, settings, data, client)
    return SignUpOut(agency_name=agency.name, **pair.model_dump())


@router.post(
    "/login",
    summary="Log in with email and password",
    description="Rate-limited per account and per client address (429 with Retry-After).",
    responses=problems(401, 422, 429),
)
async def log_in(
    data: LoginIn, session: Session, settings: SettingsDep, client: Client, limiter: Limiter
) -> TokenPair:
    limits = _limits(settings)
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
    limits = _limits(settings)
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
    await limiter.hit(_limits(settings)["login_account"], f"user:{user_id}")
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
    limits = _limits(settings)
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
    await limiter.hit(_limits(settings)["reset_address"], client.ip or "unknown")
    ended = await password_reset.reset(session, data.token, data.new_password)
    forget_sessions(request, ended)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
