"""Social accounts: each platform the brand allows, with the location's account and its
health; connect, reconnect (the same OAuth flow as ``POST /v1/locations/…/connect``), choose
the page when the login manages several, disconnect after a confirmation.

The consent returns to the API's callback URL (the one registered with the platforms), which
hands a flow started here to ``/accounts/callback``; that page finishes it only for the browser
session that started it (``services.web.oauth_binding``), then lands on ``/accounts`` or on
the page that asks which page or profile is the location's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import Form, Query, Request
from fastapi.responses import Response

from services.api.deps import Redis, Session, SettingsDep
from services.web import oauth_binding, security
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from shared.access.policy import Target, allowed
from shared.brand_rules import service as rules_service
from shared.config import Settings
from shared.crypto import keyring_from_settings
from shared.errors import AppError, NotFound
from shared.locations import service as location_service
from shared.platforms import registry
from shared.social_accounts import oauth_flow
from shared.social_accounts import service as account_service
from shared.social_accounts.models import SocialAccount

router = web_router()

EXPIRING_WITHIN = timedelta(days=7)
"""An account whose access ends this soon (and that Chorus cannot renew) shows as expiring."""

# What went wrong, by the service's error code: (status, message) shown on the problem page.
_PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid_state": (
        400,
        N_(
            "This connection has expired or was already finished. Start again from your "
            "social accounts."
        ),
    ),
    "selection_not_found": (
        400,
        N_("This choice has expired or was already made. Start again from your social accounts."),
    ),
    "other_session": (
        403,
        N_(
            "This connection was started in another browser or by someone else, so Chorus "
            "did not finish it. Start again from your social accounts."
        ),
    ),
    "consent_refused": (
        400,
        N_(
            "%(platform)s did not give Chorus access: permission was refused on its page. "
            "Nothing was connected; you can try again."
        ),
    ),
    "account_in_use": (
        409,
        N_(
            "This %(platform)s account is already connected to another location. Disconnect "
            "it there first, so that no post goes out twice."
        ),
    ),
    "no_accounts": (
        502,
        N_(
            "%(platform)s gave access to no page or profile Chorus can post to. The person who "
            "allows access must manage at least one."
        ),
    ),
    "platform_not_allowed": (
        409,
        N_(
            "Your brand does not allow %(platform)s. A brand manager can add it to the "
            "brand's allowed platforms."
        ),
    ),
    "platform_not_configured": (
        503,
        N_("This installation of Chorus is not set up to connect to %(platform)s yet."),
    ),
    "unknown_choice": (
        422,
        N_("Choose one of the pages or profiles listed."),
    ),
}
_UPSTREAM = (
    502,
    N_("%(platform)s did not answer as expected, so nothing was connected. Try again in a moment."),
)

HEALTH_LABELS = {
    "connected": N_("Connected"),
    "expiring": N_("Access ends soon"),
    "needs_reconnect": N_("Needs reconnecting"),
    "not_connected": N_("Not connected"),
}


def display_name(platform: str) -> str:
    return registry.connector_class(platform).display_name


@dataclass(frozen=True, slots=True)
class PlatformRow:
    """One platform on the page: the location's account there (if any) and what to offer."""

    platform: str
    name: str
    account: SocialAccount | None
    health: str
    ends_at: datetime | None
    brand_allows: bool
    configured: bool

    @property
    def connected(self) -> bool:
        return self.health != "not_connected"

    @property
    def can_start(self) -> bool:
        return self.brand_allows and self.configured


def health_of(account: SocialAccount | None, now: datetime) -> tuple[str, datetime | None]:
    """connected / expiring (with when) / needs_reconnect / not_connected. An account Chorus
    renews by itself (it holds a refresh token) is expiring only when that token ends soon."""
    if account is None or account.status == "revoked":
        return "not_connected", None
    if account.status == "needs_reconnect":
        return "needs_reconnect", None
    ends = account.refresh_expires_at
    if account.refresh_token is None:
        ends = account.token_expires_at
    if ends is not None and ends < now + EXPIRING_WITHIN:
        return "expiring", ends
    return "connected", None


def _configured(settings: Settings, platform: str) -> bool:
    try:
        registry.app_credentials(settings, platform)
    except registry.PlatformNotConfigured:
        return False
    return True


def _consent_origins(settings: Settings, platforms: list[str]) -> list[str]:
    """Where the connect forms' redirect leads: a browser applies the page's ``form-action``
    to the redirect after a form is sent, so the consent pages' origins are allowed there."""
    origins: list[str] = []
    for platform in platforms:
        url = registry.connector(platform, settings).authorize_url("-", "-").url
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme in ("http", "https") and origin not in origins:
            origins.append(origin)
    return origins


def _csp_allowing(origins: list[str]) -> dict[str, str]:
    if not origins:
        return {}
    policy = security.CSP.replace(
        "form-action 'self'", "form-action 'self' " + " ".join(origins), 1
    )
    return {"Content-Security-Policy": policy}


def _target(viewer: Viewer) -> Target:
    if viewer.location is None:
        raise NotFound("no location")
    return Target(brand_id=viewer.location.brand_id, location_id=viewer.location.id)


def _flash(request: Request, connected: str | None, disconnected: str | None) -> str | None:
    t = translator(request)
    if connected in registry.PLATFORM_NAMES:
        return t.gettext("%(platform)s is connected.", platform=display_name(connected))
    if disconnected in registry.PLATFORM_NAMES:
        return t.gettext("%(platform)s is disconnected.", platform=display_name(disconnected))
    return None


@router.get("/accounts")
async def accounts_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    connected: Annotated[str | None, Query(max_length=40)] = None,
    disconnected: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    location = viewer.location
    if location is None:
        return render(request, "accounts/list.html", {"rows": [], "can_connect": False})
    accounts = await account_service.list_location_accounts(session, viewer.principal, location.id)
    rules = await rules_service.rules_for(session, viewer.principal.agency_id, location.brand_id)
    allowed_platforms = rules.allowed_platforms
    by_platform = {a.platform: a for a in accounts}
    now = datetime.now(UTC)
    rows = []
    for platform in registry.PLATFORM_NAMES:
        account = by_platform.get(platform)
        brand_allows = allowed_platforms is None or platform in allowed_platforms
        if not brand_allows and (account is None or account.status == "revoked"):
            continue
        health, ends_at = health_of(account, now)
        rows.append(
            PlatformRow(
                platform=platform,
                name=display_name(platform),
                account=account,
                health=health,
                ends_at=ends_at,
                brand_allows=brand_allows,
                configured=_configured(settings, platform),
            )
        )
    can_connect = allowed(viewer.principal, "social_account.connect", _target(viewer))
    headers: dict[str, str] = {}
    if can_connect:
        headers = _csp_allowing(
            _consent_origins(settings, [r.platform for r in rows if r.can_start])
        )
    return render(
        request,
        "accounts/list.html",
        {
            "rows": rows,
            "can_connect": can_connect,
            "labels": HEALTH_LABELS,
            "test_mode": bool(settings.platform_sandbox_url),
            "flash": _flash(request, connected, disconnected),
        },
        headers=headers,
    )


def _problem_page(
    request: Request, code: str, platform: str | None, *, can_retry: bool = False
) -> Response:
    status, message = _PROBLEMS.get(code, _UPSTREAM)
    return render(
        request,
        "accounts/problem.html",
        {
            "message": message,
            "platform": platform,
            "platform_name": display_name(platform) if platform else "",
            "can_retry": can_retry,
        },
        status_code=status,
    )


def _known(platform: str) -> str:
    if platform not in registry.PLATFORM_NAMES:
        raise NotFound("no such platform")
    return platform


@router.post("/accounts/{platform}/connect")
async def connect(
    request: Request,
    platform: str,
    viewer: SignedIn,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
) -> Response:
    """Starts the API's flow and sends the browser to the platform's consent page."""
    _known(platform)
    _target(viewer)
    assert viewer.location is not None
    try:
        started = await account_service.start_connect(
            session, redis, settings, viewer.principal, viewer.location.id, platform
        )
    except AppError as exc:
        if exc.error_code in ("platform_not_allowed", "platform_not_configured"):
            return _problem_page(request, exc.error_code, platform)
        raise
    state = parse_qs(urlsplit(started.authorize_url).query).get("state", [""])[0]
    await oauth_binding.bind(
        redis,
        state,
        viewer.session.digest,
        platform,
        settings.oauth_state_ttl_seconds,
    )
    return redirect(started.authorize_url)


@router.get("/accounts/callback")
async def callback(
    request: Request,
    viewer: SignedIn,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    state: Annotated[str, Query(max_length=200)],
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Where the consent lands (through the API's callback URL): connected, or choose."""
    started = await oauth_binding.started_by(redis, state)
    if started is None:
        return _problem_page(request, "invalid_state", None)
    if started.session_digest != viewer.session.digest.hex():
        return _problem_page(request, "other_session", started.platform)
    await oauth_binding.release(redis, state)
    try:
        outcome = await account_service.finish_connect(
            session,
            redis,
            settings,
            state=state,
            code=code,
            error=error,
            error_description=error_description,
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        await session.rollback()
        return _problem_page(
            request, exc.error_code, started.platform, can_retry=exc.error_code != "account_in_use"
        )
    if outcome.account is not None:
        return redirect(f"/accounts?connected={outcome.account.platform}")
    assert outcome.selection_id is not None
    assert outcome.location_id is not None
    await oauth_binding.keep_choice(
        redis,
        viewer.session.digest,
        oauth_binding.WaitingChoice(outcome.selection_id, outcome.location_id, started.platform),
        settings.oauth_state_ttl_seconds,
    )
    return redirect("/accounts/choose")


async def _waiting(
    viewer: Viewer, redis: Redis, settings: Settings
) -> tuple[oauth_binding.WaitingChoice, oauth_flow.PendingChoice] | None:
    waiting = await oauth_binding.waiting_choice(redis, viewer.session.digest)
    if waiting is None:
        return None
    pending = await oauth_flow.choice(
        redis, keyring_from_settings(settings), waiting.selection_id, consume=False
    )
    if (
        pending is None
        or pending.agency_id != viewer.principal.agency_id
        or pending.actor_id != viewer.principal.user_id
    ):
        return None
    return waiting, pending


async def _choose_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    waiting: oauth_binding.WaitingChoice,
    pending: oauth_flow.PendingChoice,
    problems: dict[str, str] | None = None,
) -> Response:
    location = await location_service.get_location(
        session, viewer.principal, waiting.location_id, "social_account.connect"
    )
    return render(
        request,
        "accounts/choose.html",
        {
            "location_name": location.name,
            "platform_name": display_name(waiting.platform),
            "choices": pending.grant.choices,
            "problems": problems or {},
        },
        status_code=422 if problems else 200,
    )


@router.get("/accounts/choose")
async def choose_page(
    request: Request, viewer: SignedIn, session: Session, redis: Redis, settings: SettingsDep
) -> Response:
    found = await _waiting(viewer, redis, settings)
    if found is None:
        return _problem_page(request, "selection_not_found", None)
    return await _choose_page(request, viewer, session, *found)


@router.post("/accounts/choose")
async def choose(
    request: Request,
    viewer: SignedIn,
    session: Session,
    redis: Redis,
    settings: SettingsDep,
    external_id: Annotated[str | None, Form(max_length=300)] = None,
) -> Response:
    found = await _waiting(viewer, redis, settings)
    if found is None:
        return _problem_page(request, "selection_not_found", None)
    waiting, pending = found
    if not external_id or external_id not in {c.external_id for c in pending.grant.choices}:
        _, unknown = _PROBLEMS["unknown_choice"]
        problems = {"external_id": translator(request).gettext(unknown)}
        return await _choose_page(request, viewer, session, waiting, pending, problems)
    try:
        account = await account_service.choose(
            session,
            redis,
            settings,
            viewer.principal,
            waiting.location_id,
            waiting.platform,
            waiting.selection_id,
            external_id,
        )
    except AppError as exc:
        if exc.status_code in (403, 404):
            raise
        await session.rollback()
        return _problem_page(request, exc.error_code, waiting.platform)
    await oauth_binding.drop_choice(redis, viewer.session.digest)
    return redirect(f"/accounts?connected={account.platform}")


async def _own_account(viewer: Viewer, session: Session, account_id: uuid.UUID) -> SocialAccount:
    """The account, for changing, if it is the current location's (another's: 404)."""
    account = await account_service.get_account(
        session, viewer.principal, account_id, "social_account.connect"
    )
    if viewer.location is None or account.location_id != viewer.location.id:
        raise NotFound("social account not found")
    return account


@router.get("/accounts/{account_id}/disconnect")
async def disconnect_page(
    request: Request, account_id: uuid.UUID, viewer: SignedIn, session: Session
) -> Response:
    account = await _own_account(viewer, session, account_id)
    if account.status == "revoked":
        return redirect("/accounts")
    return render(
        request,
        "accounts/disconnect.html",
        {"account": account, "platform_name": display_name(account.platform)},
    )


@router.post("/accounts/{account_id}/disconnect")
async def disconnect(
    account_id: uuid.UUID, viewer: SignedIn, session: Session, settings: SettingsDep
) -> Response:
    account = await _own_account(viewer, session, account_id)
    await account_service.disconnect(session, settings, viewer.principal, account.id)
    return redirect(f"/accounts?disconnected={account.platform}")
