from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from services.api.deps import Client, Limiter, Session, SettingsDep
from services.api.problems import problems
from shared.config import Settings
from shared.identity import service as identity_service
from shared.identity.schemas import LoginIn, RefreshIn, SignUpIn, SignUpOut, TokenPair
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
    summary="Revoke a login (its refresh tokens)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(422),
)
async def log_out(data: RefreshIn, session: Session) -> Response:
    await identity_service.log_out(session, data.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
