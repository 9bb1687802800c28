from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response

from services.api.deps import (
    DEFAULT_PAGE_SIZE,
    CurrentPrincipal,
    Cursor,
    Limit,
    Redis,
    Session,
    SettingsDep,
)
from services.api.listing import Include, sort_by, wants_total
from services.api.problems import problems
from services.web import oauth_binding
from shared.events import service as event_service
from shared.locations import service as location_service
from shared.pagination import Page
from shared.platforms import registry
from shared.social_accounts import service
from shared.social_accounts.schemas import (
    AccountChoiceOut,
    ChooseIn,
    ConnectResultOut,
    ConnectStartOut,
    DisconnectOut,
    EventOut,
    PlatformOut,
    SocialAccountOut,
)

router = APIRouter(prefix="/v1", tags=["social accounts"])

PlatformPath = Annotated[
    str,
    Path(json_schema_extra={"enum": list(registry.PLATFORM_NAMES)}, description="A platform name."),
]
"""Any other name is still a 422 unknown_platform from the service; the document names them."""


@router.get(
    "/platforms",
    summary="The platforms Chorus connects to, and whether this installation can",
    responses=problems(401),
)
async def list_platforms(settings: SettingsDep, principal: CurrentPrincipal) -> list[PlatformOut]:
    out = []
    for name in registry.PLATFORM_NAMES:
        cls = registry.connector_class(name)
        try:
            registry.app_credentials(settings, name)
            configured = True
        except registry.PlatformNotConfigured:
            configured = False
        out.append(
            PlatformOut(
                platform=name,
                display_name=cls.display_name,
                configured=configured,
                test_mode=bool(settings.platform_sandbox_url),
                supports_reviews=cls.limits.supports_reviews,
                supports_delete=cls.limits.supports_delete,
                publish_per_day=cls.limits.publish_per_day,
            )
        )
    return out


@router.post(
    "/locations/{location_id}/social-accounts/{platform}/connect",
    summary="Start connecting a platform for a location",
    description="Answers the platform's consent URL (with a signed, single-use `state`, and "
    "PKCE where the platform uses it). Open it in the browser of the person who manages the "
    "account; the platform then sends them to `GET /v1/social-accounts/oauth/callback`.",
    responses=problems(401, 403, 404, 409, 422, 503),
    openapi_extra={"x-permission": "social_account.connect"},
)
async def start_connect(
    location_id: uuid.UUID,
    platform: PlatformPath,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> ConnectStartOut:
    started = await service.start_connect(
        session, redis, settings, principal, location_id, platform
    )
    return ConnectStartOut(
        authorize_url=started.authorize_url,
        expires_at=started.expires_at,
        test_mode=started.test_mode,
    )


@router.get(
    "/social-accounts/oauth/callback",
    summary="Where the platform sends the browser back (no login needed: the state says who)",
    description="Exchanges the code. One account: connected. Several (Facebook pages, "
    "Business Profile locations, LinkedIn organizations): answers `choose` with the choices. "
    "A flow started in the web app is handed to its page (`303` to `/accounts/callback`, "
    "which finishes it for the browser session that started it).",
    response_model=ConnectResultOut,
    responses={
        **problems(400, 404, 409, 502, 503),
        303: {"description": "A flow started in the web app: on to its page."},
    },
)
async def oauth_callback(
    request: Request,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    state: Annotated[str, Query(max_length=200)],
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> ConnectResultOut | Response:
    if await oauth_binding.started_on_web(redis, state):
        return RedirectResponse(f"/accounts/callback?{request.url.query}", status_code=303)
    outcome = await service.finish_connect(
        session,
        redis,
        settings,
        state=state,
        code=code,
        error=error,
        error_description=error_description,
    )
    if outcome.account is not None:
        return ConnectResultOut(
            status="connected", account=SocialAccountOut.model_validate(outcome.account)
        )
    return ConnectResultOut(
        status="choose",
        selection_id=outcome.selection_id,
        location_id=outcome.location_id,
        platform=outcome.platform,
        choices=[
            AccountChoiceOut(
                external_id=c.external_id, name=c.name, username=c.username, kind=c.kind
            )
            for c in outcome.choices
        ],
        expires_at=outcome.expires_at,
    )


@router.post(
    "/locations/{location_id}/social-accounts/{platform}/choose",
    summary="Pick which page or business location belongs to this location",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    openapi_extra={"x-permission": "social_account.connect"},
)
async def choose_account(
    location_id: uuid.UUID,
    platform: PlatformPath,
    data: ChooseIn,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> SocialAccountOut:
    account = await service.choose(
        session,
        redis,
        settings,
        principal,
        location_id,
        platform,
        data.selection_id,
        data.external_id,
    )
    return SocialAccountOut.model_validate(account)


@router.get(
    "/locations/{location_id}/social-accounts",
    summary="A location's accounts, one per platform, with their status",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "social_account.read"},
)
async def list_location_accounts(
    location_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> list[SocialAccountOut]:
    accounts = await service.list_location_accounts(session, principal, location_id)
    return [SocialAccountOut.model_validate(a) for a in accounts]


@router.get(
    "/social-accounts",
    summary="Accounts you can see, filtered (status=needs_reconnect: what needs attention)",
    responses=problems(400, 401, 422),
    openapi_extra={"x-permission": "social_account.read"},
)
async def list_accounts(
    session: Session,
    principal: CurrentPrincipal,
    sort: Annotated[str, Depends(sort_by(service.SORTING))],
    brand_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    platform: Annotated[str | None, Query(pattern="^[a-z_]{1,40}$")] = None,
    account_status: Annotated[
        str | None,
        Query(alias="status", pattern="^(connected|needs_reconnect|revoked)$"),
    ] = None,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[SocialAccountOut]:
    page = await service.list_accounts(
        session,
        principal,
        service.AccountFilter(brand_id, location_id, platform, account_status),
        sort=sort,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[SocialAccountOut](
        items=[SocialAccountOut.model_validate(a) for a in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/social-accounts/{account_id}",
    summary="One social account",
    responses=problems(401, 404),
    openapi_extra={"x-permission": "social_account.read"},
)
async def get_account(
    account_id: uuid.UUID, session: Session, principal: CurrentPrincipal
) -> SocialAccountOut:
    return SocialAccountOut.model_validate(
        await service.get_account(session, principal, account_id)
    )


@router.delete(
    "/social-accounts/{account_id}",
    summary="Disconnect: revoke at the platform where it can be done, forget the tokens",
    responses=problems(401, 403, 404),
    openapi_extra={"x-permission": "social_account.connect"},
)
async def disconnect(
    account_id: uuid.UUID, session: Session, settings: SettingsDep, principal: CurrentPrincipal
) -> DisconnectOut:
    account, revoked = await service.disconnect(session, settings, principal, account_id)
    return DisconnectOut(
        account=SocialAccountOut.model_validate(account), revoked_at_platform=revoked
    )


@router.get(
    "/locations/{location_id}/events",
    summary="What happened at a location, newest first (account.needs_reconnect, …)",
    responses=problems(400, 401, 404),
    openapi_extra={"x-permission": "location.read"},
)
async def list_location_events(
    location_id: uuid.UUID,
    session: Session,
    principal: CurrentPrincipal,
    include: Include = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[EventOut]:
    location = await location_service.get_location(session, principal, location_id)
    page = await event_service.list_location_events(
        session,
        principal,
        location.brand_id,
        location.id,
        limit=limit,
        cursor=cursor,
        total=wants_total(include),
    )
    return Page[EventOut](
        items=[EventOut.model_validate(e) for e in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )
