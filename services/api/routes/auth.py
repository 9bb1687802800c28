from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.api.deps import Client, Session, SettingsDep
from services.api.problems import problems
from shared.identity import service as identity_service
from shared.identity.schemas import LoginIn, RefreshIn, SignUpIn, SignUpOut, TokenPair

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post(
    "/signup",
    summary="Create an agency and its owner",
    status_code=status.HTTP_201_CREATED,
    responses=problems(409, 422),
)
async def sign_up(
    data: SignUpIn, session: Session, settings: SettingsDep, client: Client
) -> SignUpOut:
    agency, pair = await identity_service.sign_up(session, settings, data, client)
    return SignUpOut(agency_name=agency.name, **pair.model_dump())


@router.post("/login", summary="Log in with email and password", responses=problems(401, 422))
async def log_in(
    data: LoginIn, session: Session, settings: SettingsDep, client: Client
) -> TokenPair:
    return await identity_service.log_in(session, settings, data, client)


@router.post(
    "/refresh",
    summary="Rotate a refresh token for a new token pair",
    description="The presented refresh token is spent. Presenting a spent token again revokes "
    "every token of that login.",
    responses=problems(401, 422),
)
async def refresh(
    data: RefreshIn, session: Session, settings: SettingsDep, client: Client
) -> TokenPair:
    return await identity_service.refresh(session, settings, data.refresh_token, client)


@router.post(
    "/logout",
    summary="Revoke a login (its refresh tokens)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(422),
)
async def log_out(data: RefreshIn, session: Session) -> Response:
    await identity_service.log_out(session, data.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
