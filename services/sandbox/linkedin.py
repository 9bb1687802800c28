"""LinkedIn organization pages through the Community Management API (versioned ``/rest``).

Real hosts, collapsed onto ``/linkedin``: ``www.linkedin.com`` (OAuth) and ``api.linkedin.com``
(``/rest``).

Served:
- ``GET /oauth/v2/authorization``, ``POST /oauth/v2/accessToken`` (``authorization_code`` and
  ``refresh_token``; errors ``{"error", "error_description"}``), ``POST /oauth/v2/revoke``;
- ``GET /rest/organizationAcls?q=roleAssignee``, ``GET /rest/organizations/{id}``;
- ``POST /rest/images?action=initializeUpload`` (``{"initializeUploadRequest": {"owner"}}`` →
  ``{"value": {"uploadUrlExpiresAt", "uploadUrl", "image"}}``) and ``PUT`` of the image bytes to
  that ``uploadUrl`` (201), served here as ``/dms-uploads/sp/v2/{upload}/uploadedImage/0``;
- ``POST /rest/posts`` (201, ``x-restli-id``; ``content`` is ``article``, ``media`` (one image)
  or ``multiImage`` (2 to 20 images), each image ``{"id", "altText"}``), ``GET /rest/posts/{urn}``,
  ``GET /rest/posts?q=author&author={urn}`` (newest first, ``start``/``count``),
  ``DELETE /rest/posts/{urn}`` (204);
- ``GET /rest/organizationalEntityShareStatistics?q=organizationalEntity`` (DAY granularity, or
  lifetime per post with ``shares=List(…)`` / ``ugcPosts=List(…)``: numbers derived from the
  post's URN, growing with its age in whole days),
  ``GET /rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER``.

Every ``/rest`` call needs ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version:
2.0.0``. API errors are ``{"status", "serviceErrorCode", "code", "message"}``; 422 validation
errors add ``errorDetailType``.

Sandbox choices, where LinkedIn can't be modelled exactly:
- the authorize page consents at once (``sandbox_deny=1`` refuses with
  ``user_cancelled_authorize``) and creates a member administering ``ORGS_PER_MEMBER`` pages;
- a version is refused (426 ``NONEXISTENT_VERSION``) when malformed, before the first versioned
  release (202206) or in the future; real versions also sunset after about a year, which the
  sandbox doesn't enforce;
- access tokens live 60 days and refresh tokens 365 days; a refresh returns the *same* refresh
  token with its remaining lifetime, as LinkedIn does; earlier access tokens keep working until
  they expire; revoking any token of a member revokes all of that member's tokens for the app;
- daily limits reset at midnight UTC and are counted per member and per application
  (``DAILY_LIMITS``); LinkedIn sends no rate-limit headers;
- the 3,000-character limit is counted on the commentary as shown (escapes resolved);
- a post whose commentary repeats a live post of the same author is a duplicate (422);
- the ``auth_revoked`` fault answers 401 ``REVOKED_ACCESS_TOKEN`` without revoking the token;
- images: the upload URL is on the sandbox (under ``/linkedin``), takes the member's bearer token
  and the faults like any call (no version headers), lives ``UPLOAD_URL_TTL_S`` and may be PUT
  again until it expires; the body must be a JPG, PNG or GIF (by its bytes) sent with an
  ``image/*`` content type, non-empty and at most ``MAX_IMAGE_BYTES`` (LinkedIn documents a
  pixel count, under 36,152,320, which is checked for PNGs only, and no byte limit; the cap
  is the sandbox's); an uploaded image is ``AVAILABLE`` at once (LinkedIn processes it
  first); a post may use only images its author owns whose upload finished, anything else is
  refused 422; alt text is kept per post and shown in the post's ``content``;
- a post whose images differ is never a duplicate of another (image URNs are new per upload).
"""

import re
import secrets
import struct
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.sandbox import activity
from services.sandbox.call import PlatformCall
from services.sandbox.config import Window
from services.sandbox.deps import bearer, client_ref, consent_redirect, sandbox, with_query
from services.sandbox.faults import FaultKind
from services.sandbox.state import (
    Account,
    PlatformState,
    Post,
    Token,
    TokenKind,
    TokenProblem,
)
from shared.content.text import length

PLATFORM = "linkedin"
ACCESS_TOKEN_TTL_S = 60 * 24 * 3600  # 60 days
REFRESH_TOKEN_TTL_S = 365 * 24 * 3600  # 365 days, never extended by a refresh
ORGS_PER_MEMBER = 2
MAX_COMMENTARY = 3_000
FIRST_VERSION = "202206"
RESTLI_VERSION = "2.0.0"
# Per-day limits (calls per member, calls per application), reset at midnight UTC. Posts API
# create: 150 per member, 100,000 per application (Community Management API rate limits).
DAILY_LIMITS: dict[str, tuple[int, int]] = {
    "posts.create": (150, 100_000),
    "default": (100_000, 1_000_000),
}
ORG_SCOPES_READ = ("r_organization_social", "rw_organization_admin", "r_organization_admin")
SCOPE_POST = "w_organization_social"
SCOPE_ADMIN = ("rw_organization_admin", "r_organization_admin")
_VERSION = re.compile(r"^(\d{4})(\d{2})(\.\d{2})?$")
_INTERVALS = re.compile(
    r"^\(timeRange:\(start:(\d+),end:(\d+)\),timeGranularityType:(DAY|MONTH)\)$"
)
MAX_IMAGES = 20  # multiImage: 2 to 20 images (MultiImage API)
MAX_ALT_TEXT = 4086
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # the sandbox's cap (LinkedIn documents no byte limit)
MAX_PIXELS = 36_152_320  # width x height must stay under this (Images API)
UPLOAD_URL_TTL_S = 24 * 3600
IMAGE_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_ORG = re.compile(r"^urn:li:organization:(\d+)$")
_HASHTAG_TEMPLATE = re.compile(r"\{hashtag\|\\#\|([^}]+)\}")
_ESCAPED = re.compile(r"\\([\\|{}@\[\]()<>#*_~])")

router = APIRouter(tags=["linkedin"])


def li_error(
    status: int,
    message: str,
    code: str | None = None,
    service_code: int | None = None,
    *,
    detail_type: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"status": status}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    if code is not None:
        body["code"] = code
    if detail_type is not None:
        body["errorDetailType"] = detail_type
    body["message"] = message
    return JSONResponse(body, status_code=status)


def _unprocessable(message: str) -> JSONResponse:
    return li_error(422, message, detail_type="com.linkedin.common.error.BadRequest")


def _oauth_error(description: str, error: str = "invalid_request", status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _token_error(problem: TokenProblem) -> JSONResponse:
    if problem is TokenProblem.EXPIRED:
        return li_error(
            401, "The token used in the request has expired", "EXPIRED_ACCESS_TOKEN", 65602
        )
    if problem is TokenProblem.REVOKED:
        return _revoked()
    return li_error(401, "Invalid access token", "INVALID_ACCESS_TOKEN", 65600)


def _revoked() -> JSONResponse:
    return li_error(
        401,
        "The token used in the request has been revoked by the user",
        "REVOKED_ACCESS_TOKEN",
        65601,
    )


def _denied(resource: str) -> JSONResponse:
    return li_error(403, f"Not enough permissions to access: {resource}", "ACCESS_DENIED", 100)


def _not_found(what: str) -> JSONResponse:
    return li_error(404, f"{what} does not exist", "NOT_FOUND")


def _version_problem(request: Request) -> JSONResponse | None:
    version = request.headers.get("linkedin-version")
    if not version:
        return li_error(
            400,
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
            "VERSION_MISSING",
        )
    match = _VERSION.match(version.strip())
    current = datetime.now(UTC).strftime("%Y%m")
    if (
        match is None
        or not 1 <= int(match.group(2)) <= 12
        or not FIRST_VERSION <= match.group(1) + match.group(2) <= current
    ):
        return li_error(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION")
    if request.headers.get("x-restli-protocol-version") != RESTLI_VERSION:
        return li_error(
            400,
            "Invalid request: this API requires Rest.li protocol 2.0.0; set the "
            "X-Restli-Protocol-Version header to 2.0.0",
            "ILLEGAL_ARGUMENT",
        )
    return None


class _Call(PlatformCall):
    platform = PLATFORM

    def member(self) -> Account:
        return self.state.accounts[self.token.subject]

    def administers(self, org_urn: str) -> Account | None:
        match = _ORG.match(org_urn)
        org = self.state.accounts.get(match.group(1)) if match else None
        if org is None or org.kind != "organization" or org.owner_id != self.token.subject:
            return None
        return org

    def has(self, *scopes: str) -> bool:
        return any(s in self.token.scopes for s in scopes)


def _day_key(now: float) -> str:
    return activity.utc_day(now).isoformat()


async def _begin(request: Request, endpoint: str) -> _Call | JSONResponse:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    problem = _version_problem(request)
    if problem is not None:
        return problem
    now = box.clock.now()
    checked = state.check_token(bearer(request) or "", now, (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return _token_error(checked)
    fault = await box.faults.before_call(PLATFORM)
    member_limit, app_limit = DAILY_LIMITS.get(endpoint, DAILY_LIMITS["default"])
    day = _day_key(now)
    # Keys carry the UTC day, so each count starts again at midnight UTC.
    member_key = f"{checked.subject}:{endpoint}:{day}"
    app_key = f"app:{checked.client_id}:{endpoint}:{day}"
    member_window, app_window = Window(member_limit, 2 * 86_400), Window(app_limit, 2 * 86_400)
    if fault is FaultKind.RATE_LIMITED:
        member = state.windows.exhaust(member_key, member_window, now)
    else:
        member = state.windows.hit(member_key, member_window, now)
    app = state.windows.hit(app_key, app_window, now) if member.allowed else None
    if not member.allowed:
        return li_error(
            429,
            "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
            "TOO_MANY_REQUESTS",
            101,
        )
    if app is not None and not app.allowed:
        return li_error(
            429,
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            "TOO_MANY_REQUESTS",
            101,
        )
    if fault is FaultKind.SERVER_ERROR:
        return li_error(500, "Internal Server Error")
    if fault is FaultKind.AUTH_REVOKED:
        return _revoked()
    return _Call(request, box, state, checked, fault)


def _unescape(commentary: str) -> str:
    """The text as members see it: little-text escapes and hashtag templates resolved (the
    3,000-character limit is on what is shown)."""
    return _ESCAPED.sub(r"\1", _HASHTAG_TEMPLATE.sub(r"#\1", commentary))


def _ms(epoch: float) -> int:
    return int(epoch * 1000)


# --- OAuth 2.0 ----------------------------------------------------------------------------------


@router.get("/oauth/v2/authorization")
async def authorization(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    q = dict(request.query_params)
    client_id, redirect_uri = q.get("client_id"), q.get("redirect_uri")
    if not client_id or not redirect_uri or q.get("response_type") != "code":
        return _oauth_error("client_id, redirect_uri and response_type=code are required")
    back = {"state": q["state"]} if "state" in q else {}
    if q.get("sandbox_deny") == "1":
        back.update(
            error="user_cancelled_authorize",
            error_description="The user cancelled the authorization",
        )
        return RedirectResponse(with_query(redirect_uri, back), status_code=302)
    n = state.next_seq()
    member = Account(
        id=secrets.token_urlsafe(7).replace("-", "x").replace("_", "y"),
        name=f"Sandbox Member {n}",
        kind="member",
    )
    state.accounts[member.id] = member
    for i in range(1, ORGS_PER_MEMBER + 1):
        org_id = str(90_000_000 + n * 10 + i)
        state.accounts[org_id] = Account(
            id=org_id,
            name=f"Sandbox Pizzeria {n}.{i}",
            kind="organization",
            username=f"sandbox-pizzeria-{n}-{i}",
            owner_id=member.id,
        )
    return consent_redirect(
        box,
        state,
        back,
        client_id=client_id,
        redirect_uri=redirect_uri,
        user_id=member.id,
        scopes=tuple(q.get("scope", "").split()),
    )


@router.post("/oauth/v2/accessToken")
async def access_token(request: Request) -> Response:
    box = sandbox(request)
    state = box.platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    now = box.clock.now()
    client_id = form.get("client_id")
    if not client_id or not form.get("client_secret"):
        return _oauth_error("Client authentication failed", "invalid_client", 401)
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return li_error(500, "Internal Server Error")
    if fault is FaultKind.RATE_LIMITED:
        return li_error(429, "Too many requests", "TOO_MANY_REQUESTS", 101)
    grant = form.get("grant_type")
    refresh: Token | None = None
    if grant == "authorization_code":
        code = state.take_code(form.get("code", ""), now)
        if (
            code is None
            or code.client_id != client_id
            or code.redirect_uri != form.get("redirect_uri")
        ):
            return _oauth_error(
                "Unable to retrieve access token: appid/redirect uri/code verifier does not "
                "match authorization code. Or authorization code expired. Or external member "
                "binding exists",
                "invalid_request",
            )
        member_id, scopes = code.user_id, code.scopes
    elif grant == "refresh_token":
        checked = state.check_token(form.get("refresh_token", ""), now, (TokenKind.REFRESH,))
        if isinstance(checked, TokenProblem) or checked.client_id != client_id:
            expired = checked is TokenProblem.EXPIRED
            return _oauth_error(
                "The provided refresh token has expired"
                if expired
                else "The provided refresh token is invalid",
                "invalid_request",
            )
        refresh = checked
        member_id, scopes = checked.subject, checked.scopes
    else:
        return _oauth_error("Unsupported grant_type", "unsupported_grant_type")
    if fault is FaultKind.AUTH_REVOKED:
        return _oauth_error(
            "The token used in the request has been revoked by the user", "invalid_grant"
        )
    access = state.issue_token(
        TokenKind.USER, member_id, client_id, now + ACCESS_TOKEN_TTL_S, scopes, "AQ"
    )
    if refresh is None:
        refresh = state.issue_token(
            TokenKind.REFRESH, member_id, client_id, now + REFRESH_TOKEN_TTL_S, scopes, "AQR"
        )
    body = {
        "access_token": access.value,
        "expires_in": ACCESS_TOKEN_TTL_S,
        "refresh_token": refresh.value,
        "refresh_token_expires_in": int((refresh.expires_at or now) - now),
        "scope": ",".join(scopes),
    }
    if fault is FaultKind.ACCEPT_THEN_TIMEOUT:
        await box.faults.hold(PLATFORM, request)
    return JSONResponse(body)


@router.post("/oauth/v2/revoke")
async def revoke(request: Request) -> Response:
    state = sandbox(request).platform(PLATFORM)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    client_id = form.get("client_id")
    if not client_id or not form.get("client_secret"):
        return _oauth_error("Client authentication failed", "invalid_client", 401)
    found = state.tokens.get(form.get("token", ""))
    if found is None or found.client_id != client_id:
        return _oauth_error("Invalid token", "invalid_request")
    for token in state.tokens.values():
        if token.subject == found.subject and token.client_id == client_id:
            token.revoked = True
    return Response(status_code=200)


# --- Organizations ------------------------------------------------------------------------------


@router.get("/rest/organizationAcls")
async def organization_acls(request: Request) -> Response:
    call = await _begin(request, "organizationAcls")
    if isinstance(call, JSONResponse):
        return call
    q = request.query_params
    if q.get("q") != "roleAssignee":
        return li_error(400, "Invalid query: q must be roleAssignee", "ILLEGAL_ARGUMENT")
    if not call.has(*SCOPE_ADMIN, SCOPE_POST):
        return _denied("organizationAcls.FINDER-roleAssignee")
    role, acl_state = q.get("role", "ADMINISTRATOR"), q.get("state", "APPROVED")
    orgs = [
        a
        for a in call.state.accounts.values()
        if a.kind == "organization" and a.owner_id == call.token.subject
    ]
    if role != "ADMINISTRATOR" or acl_state != "APPROVED":
        orgs = []
    start, count = int(q.get("start", "0")), int(q.get("count", "10"))
    page = orgs[start : start + count]
    elements = [
        {
            "roleAssignee": f"urn:li:person:{call.token.subject}",
            "state": "APPROVED",
            "role": "ADMINISTRATOR",
            "organization": f"urn:li:organization:{org.id}",
        }
        for org in page
    ]
    paging = {"start": start, "count": count, "links": [], "total": len(orgs)}
    return await call.answer(JSONResponse({"elements": elements, "paging": paging}))


@router.get("/rest/organizations/{org_id}")
async def organization(org_id: str, request: Request) -> Response:
    call = await _begin(request, "organizations")
    if isinstance(call, JSONResponse):
        return call
    org = call.state.accounts.get(org_id)
    if org is None or org.kind != "organization":
        return _not_found(f"Organization {org_id}")
    body = {
        "id": int(org.id),
        "$URN": f"urn:li:organization:{org.id}",
        "localizedName": org.name,
        "name": {
            "localized": {"en_US": org.name},
            "preferredLocale": {"country": "US", "language": "en"},
        },
        "vanityName": org.username,
        "primaryOrganizationType": "NONE",
        "organizationType": "PRIVATELY_HELD",
        "localizedWebsite": f"https://{org.username}.example",
    }
    return await call.answer(JSONResponse(body))


# --- Images -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Image:
    urn: str
    owner_id: str  # the organization's id
    member_id: str  # who initialized the upload
    upload_id: str
    upload_expires_at: float
    status: str = "WAITING_UPLOAD"
    media_type: str | None = None
    size: int = 0


@dataclass(slots=True)
class _Extras:
    """What LinkedIn keeps beyond ``state.Post``: images (a post's ``media`` holds their URNs)
    and each post's alt texts. Kept in ``state.activity`` under a key no account id can take,
    so a reset forgets it."""

    images: dict[str, _Image] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)  # upload id -> image URN
    alt_texts: dict[str, tuple[str | None, ...]] = field(default_factory=dict)  # by post id


def _extras(state: PlatformState) -> _Extras:
    found = state.activity.get("linkedin:extras")
    if isinstance(found, _Extras):
        return found
    extras = _Extras()
    state.activity["linkedin:extras"] = extras
    return extras


@router.post("/rest/images")
async def initialize_image_upload(request: Request) -> Response:
    call = await _begin(request, "images.initializeUpload")
    if isinstance(call, JSONResponse):
        return call
    if request.query_params.get("action") != "initializeUpload":
        return li_error(
            400, "Invalid action: only initializeUpload is supported", "ILLEGAL_ARGUMENT"
        )
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return li_error(400, "Unable to parse the request body as JSON", "ILLEGAL_ARGUMENT")
    init = body.get("initializeUploadRequest")
    owner = init.get("owner") if isinstance(init, dict) else None
    if not isinstance(owner, str) or not owner:
        return _unprocessable(
            "ERROR :: /initializeUploadRequest/owner :: field is required but not found and "
            "has no default value"
        )
    if not call.has(SCOPE_POST):
        return _denied("images.ACTION-initializeUpload")
    org = call.administers(owner)
    if org is None:
        return _denied(f"images.ACTION-initializeUpload for owner {owner}")
    extras = _extras(call.state)
    upload_id = secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
    image = _Image(
        urn=f"urn:li:image:D4E10AQ{secrets.token_urlsafe(12).replace('-', 'x').replace('_', 'y')}",
        owner_id=org.id,
        member_id=call.token.subject,
        upload_id=upload_id,
        upload_expires_at=call.now + UPLOAD_URL_TTL_S,
    )
    extras.images[image.urn] = image
    extras.uploads[upload_id] = image.urn
    upload_url = (
        f"{str(request.base_url).rstrip('/')}/{PLATFORM}/dms-uploads/sp/v2/{upload_id}"
        "/uploadedImage/0?ca=vector_feedshare&cn=uploads&sync=0&v=beta"
    )
    value = {
        "uploadUrlExpiresAt": _ms(image.upload_expires_at),
        "uploadUrl": upload_url,
        "image": image.urn,
    }
    return await call.answer(JSONResponse({"value": value}))


def _image_type(blob: bytes) -> str | None:
    return next((t for magic, t in IMAGE_TYPES.items() if blob.startswith(magic)), None)


def _png_pixels(blob: bytes) -> int | None:
    if blob.startswith(b"\x89PNG\r\n\x1a\n") and blob[12:16] == b"IHDR" and len(blob) >= 24:
        width, height = struct.unpack(">II", blob[16:24])
        return int(width) * int(height)
    return None


@router.put("/dms-uploads/sp/v2/{upload_id}/uploadedImage/0")
async def upload_image(upload_id: str, request: Request) -> Response:
    """The image bytes for an initialized upload: the member's bearer token, no version
    headers (the upload host is not ``/rest``)."""
    box = sandbox(request)
    state = box.platform(PLATFORM)
    checked = state.check_token(bearer(request) or "", box.clock.now(), (TokenKind.USER,))
    if isinstance(checked, TokenProblem):
        return _token_error(checked)
    fault = await box.faults.before_call(PLATFORM)
    if fault is FaultKind.SERVER_ERROR:
        return li_error(500, "Internal Server Error")
    if fault is FaultKind.RATE_LIMITED:
        return li_error(429, "Too many requests", "TOO_MANY_REQUESTS", 101)
    if fault is FaultKind.AUTH_REVOKED:
        return _revoked()
    call = _Call(request, box, state, checked, fault)
    extras = _extras(state)
    image = extras.images.get(extras.uploads.get(upload_id, ""))
    if image is None:
        return _not_found(f"Upload {upload_id}")
    if image.member_id != checked.subject:
        return _denied(f"upload {upload_id}")
    if call.now >= image.upload_expires_at:
        return li_error(400, "The upload URL has expired", "ILLEGAL_ARGUMENT")
    too_big = li_error(413, f"The image is larger than {MAX_IMAGE_BYTES} bytes", "ILLEGAL_ARGUMENT")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        return too_big
    blob = await request.body()
    if not blob:
        return li_error(400, "The upload is empty", "ILLEGAL_ARGUMENT")
    if len(blob) > MAX_IMAGE_BYTES:
        return too_big
    declared_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = _image_type(blob)
    if not declared_type.startswith("image/") or kind is None:
        return li_error(
            400,
            "Unsupported media type: upload a JPG, PNG or GIF image with its image/* content type",
            "ILLEGAL_ARGUMENT",
        )
    pixels = _png_pixels(blob)
    if pixels is not None and pixels >= MAX_PIXELS:
        return li_error(
            400,
            f"The image has {pixels} pixels; it must have fewer than {MAX_PIXELS}",
            "ILLEGAL_ARGUMENT",
        )
    image.status, image.media_type, image.size = "AVAILABLE", kind, len(blob)
    return await call.answer(Response(status_code=201))


# --- Posts --------------------------------------------------------------------------------------


def _post_body(post: Post, extras: _Extras) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": post.id,
        "author": f"urn:li:organization:{post.account_id}",
        "commentary": post.text,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": {"isEditedByAuthor": False},
        "isReshareDisabledByAuthor": False,
        "createdAt": _ms(post.created_at),
        "publishedAt": _ms(post.created_at),
        "lastModifiedAt": _ms(post.created_at),
    }
    alts = extras.alt_texts.get(post.id, ())
    images = []
    for i, urn in enumerate(post.media):
        image: dict[str, Any] = {"id": urn}
        if i < len(alts) and alts[i] is not None:
            image["altText"] = alts[i]
        images.append(image)
    if len(images) == 1:
        body["content"] = {"media": images[0]}
    elif images:
        body["content"] = {"multiImage": {"images": images}}
    elif post.link:
        body["content"] = {"article": {"source": post.link, "title": post.link}}
    return body


def _content(
    call: _Call, org: Account, content: Any
) -> tuple[str | None, list[tuple[str, str | None]]] | JSONResponse:
    """A post's ``content``: its article link, or its images as (URN, alt text) pairs."""
    if content is None:
        return None, []
    kinds = ("article", "media", "multiImage")
    if not isinstance(content, dict) or len(content) != 1 or next(iter(content)) not in kinds:
        return _unprocessable(
            "ERROR :: /content :: exactly one of article, media or multiImage is supported"
        )
    if "article" in content:
        article = content["article"]
        if not isinstance(article, dict) or not article.get("source") or not article.get("title"):
            return _unprocessable("ERROR :: /content/article :: source and title are required")
        return str(article["source"]), []
    refs: Any = [content["media"]] if "media" in content else None
    where = "/content/media"
    if refs is None:
        multi = content["multiImage"]
        refs = multi.get("images") if isinstance(multi, dict) else None
        where = "/content/multiImage/images"
        if not isinstance(refs, list) or not 2 <= len(refs) <= MAX_IMAGES:
            return _unprocessable(
                f"ERROR :: {where} :: a multiImage post needs 2 to {MAX_IMAGES} images"
            )
    extras = _extras(call.state)
    images: list[tuple[str, str | None]] = []
    for i, ref in enumerate(refs):
        at = where if "media" in content else f"{where}/{i}"
        urn = ref.get("id") if isinstance(ref, dict) else None
        alt = ref.get("altText") if isinstance(ref, dict) else None
        if not isinstance(urn, str) or not urn.startswith("urn:li:image:"):
            return _unprocessable(f"ERROR :: {at}/id :: an image URN is required")
        if alt is not None and (not isinstance(alt, str) or len(alt) > MAX_ALT_TEXT):
            return _unprocessable(
                f"ERROR :: {at}/altText :: must be a string of at most {MAX_ALT_TEXT} characters"
            )
        image = extras.images.get(urn)
        if image is None:
            return _unprocessable(f"ERROR :: {at}/id :: Image {urn} does not exist")
        if image.owner_id != org.id:
            return _unprocessable(
                f"ERROR :: {at}/id :: Image {urn} is not owned by urn:li:organization:{org.id}"
            )
        if image.status != "AVAILABLE":
            return _unprocessable(
                f"ERROR :: {at}/id :: Image {urn} is not ready: its status is {image.status}"
            )
        images.append((urn, alt))
    return None, images


@router.post("/rest/posts")
async def create_post(request: Request) -> Response:
    call = await _begin(request, "posts.create")
    if isinstance(call, JSONResponse):
        return call
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return li_error(400, "Unable to parse the request body as JSON", "ILLEGAL_ARGUMENT")
    for required in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
        if required not in body:
            return _unprocessable(
                f"ERROR :: /{required} :: field is required but not found and has no default value"
            )
    if not call.has(SCOPE_POST):
        return _denied("partnerApiPostsExternal.CREATE")
    author = str(body["author"])
    org = call.administers(author)
    if org is None:
        return _denied(f"partnerApiPostsExternal.CREATE for author {author}")
    commentary = body["commentary"]
    if not isinstance(commentary, str):
        return _unprocessable("ERROR :: /commentary :: expected a string")
    shown = length(_unescape(commentary))
    if shown > MAX_COMMENTARY:
        return _unprocessable(
            f"ERROR :: /commentary :: length {shown} exceeds the maximum allowed "
            f"length of {MAX_COMMENTARY}"
        )
    if body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
        return _unprocessable("ERROR :: /visibility :: invalid enum value")
    if body["lifecycleState"] != "PUBLISHED":
        return _unprocessable("ERROR :: /lifecycleState :: only PUBLISHED is supported here")
    found = _content(call, org, body.get("content"))
    if isinstance(found, JSONResponse):
        return found
    link, images = found
    media = tuple(urn for urn, _ in images)
    if not commentary.strip() and link is None and not media:
        return _unprocessable("ERROR :: /commentary :: a post needs commentary or content")
    for other in call.state.posts.values():
        if (
            other.account_id == org.id
            and other.deleted_at is None
            and other.text == commentary
            and other.link == link
            and other.media == media
        ):
            return _unprocessable(f"Content is a duplicate of {other.id}")
    post = call.state.store_post(
        Post(
            id=f"urn:li:share:{7_200_000_000_000_000_000 + call.state.next_seq()}",
            account_id=org.id,
            text=commentary,
            link=link,
            created_at=call.now,
            client_ref=client_ref(request),
            media=media,
        )
    )
    if images:
        _extras(call.state).alt_texts[post.id] = tuple(alt for _, alt in images)
    response = Response(status_code=201, headers={"x-restli-id": post.id})
    return await call.answer(response)


def _owned_post(call: _Call, urn: str) -> Post | None:
    post = call.state.live_post(urn)
    if post is None:
        return None
    org = call.state.accounts.get(post.account_id)
    return post if org is not None and org.owner_id == call.token.subject else None


@router.get("/rest/posts/{urn}")
async def get_post(urn: str, request: Request) -> Response:
    call = await _begin(request, "posts.get")
    if isinstance(call, JSONResponse):
        return call
    post = _owned_post(call, urn)
    if post is None:
        return _not_found(f"Post {urn}")
    return await call.answer(JSONResponse(_post_body(post, _extras(call.state))))


@router.delete("/rest/posts/{urn}")
async def delete_post(urn: str, request: Request) -> Response:
    call = await _begin(request, "posts.delete")
    if isinstance(call, JSONResponse):
        return call
    if not call.has(SCOPE_POST):
        return _denied("partnerApiPostsExternal.DELETE")
    post = _owned_post(call, urn)
    if post is None:
        return _not_found(f"Post {urn}")
    post.deleted_at = call.now
    return await call.answer(Response(status_code=204))


@router.get("/rest/posts")
async def find_posts(request: Request) -> Response:
    call = await _begin(request, "posts.finder")
    if isinstance(call, JSONResponse):
        return call
    q = request.query_params
    if q.get("q") != "author":
        return li_error(400, "Invalid query: q must be author", "ILLEGAL_ARGUMENT")
    if not call.has(*ORG_SCOPES_READ):
        return _denied("partnerApiPostsExternal.FINDER-author")
    author = q.get("author", "")
    org = call.administers(author)
    if org is None:
        return _denied(f"partnerApiPostsExternal.FINDER-author for {author}")
    try:
        start, count = int(q.get("start", "0")), min(int(q.get("count", "10")), 100)
    except ValueError:
        return li_error(400, "start and count must be integers", "ILLEGAL_ARGUMENT")
    posts = sorted(
        (p for p in call.state.posts.values() if p.account_id == org.id and p.deleted_at is None),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )
    page = posts[start : start + count]
    links = []
    if start + count < len(posts):
        href = (
            f"/rest/posts?author={quote(author, safe='')}&count={count}&q=author"
            f"&start={start + count}"
        )
        links.append({"rel": "next", "type": "application/json", "href": href})
    paging = {"start": start, "count": count, "links": links, "total": len(posts)}
    extras = _extras(call.state)
    elements = [_post_body(p, extras) for p in page]
    return await call.answer(JSONResponse({"elements": elements, "paging": paging}))


# --- Statistics ---------------------------------------------------------------------------------


def _day_of_ms(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


@router.get("/rest/organizationalEntityShareStatistics")
async def share_statistics(request: Request) -> Response:
    call = await _begin(request, "organizationalEntityShareStatistics")
    if isinstance(call, JSONResponse):
        return call
    q = request.query_params
    if q.get("q") != "organizationalEntity":
        return li_error(400, "Invalid query: q must be organizationalEntity", "ILLEGAL_ARGUMENT")
    if not call.has(*SCOPE_ADMIN):
        return _denied("organizationalEntityShareStatistics.FINDER-organizationalEntity")
    entity = q.get("organizationalEntity", "")
    org = call.administers(entity)
    if org is None:
        return _denied(f"organizationalEntityShareStatistics for {entity}")
    if "shares" in q or "ugcPosts" in q:
        return await _post_statistics(call, entity, org.id)
    raw = q.get("timeIntervals")
    elements: list[dict[str, Any]] = []
    if raw is None:
        m = activity.daily_metrics(call.state, org.id, activity.utc_day(call.now))
        elements.append({"organizationalEntity": entity, "totalShareStatistics": _stats(m)})
        return await call.answer(JSONResponse({"elements": elements, "paging": _paging()}))
    match = _INTERVALS.match(raw)
    if match is None:
        return li_error(400, f"Invalid value for param timeIntervals: {raw}", "ILLEGAL_ARGUMENT")
    start_ms, end_ms, granularity = int(match.group(1)), int(match.group(2)), match.group(3)
    if end_ms <= start_ms or granularity != "DAY":
        return li_error(
            400, "Invalid timeIntervals: end must follow start, DAY granularity", "ILLEGAL_ARGUMENT"
        )
    today = activity.utc_day(call.now)
    if _day_of_ms(start_ms) < today - timedelta(days=365):
        return li_error(
            400, "Statistics are only available for the last 12 months", "ILLEGAL_ARGUMENT"
        )
    first, last = _day_of_ms(start_ms), _day_of_ms(end_ms - 1)
    for day in activity.days(first, last):
        if day >= today:
            break
        lo = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)
        m = activity.daily_metrics(call.state, org.id, day)
        elements.append(
            {
                "organizationalEntity": entity,
                "timeRange": {"start": lo, "end": lo + 86_400_000},
                "totalShareStatistics": _stats(m),
            }
        )
    return await call.answer(JSONResponse({"elements": elements, "paging": _paging()}))


POST_STATS_MAX = 20
POST_GROWTH_DAYS = 7
_LIST = re.compile(r"^List\((.*)\)$")


def post_statistics(post: Post, now: float) -> dict[str, Any]:
    """A post's lifetime share statistics: stable per URN, growing by day of age."""
    rng, grown = activity.post_numbers("linkedin-post", post, now, POST_GROWTH_DAYS)
    impressions = int(rng.randint(100, 5000) * grown)
    unique = int(impressions * rng.uniform(0.6, 0.9))
    clicks = int(unique * rng.uniform(0.01, 0.05))
    likes = int(unique * rng.uniform(0.01, 0.04))
    comments = int(likes * rng.uniform(0.05, 0.3))
    shares = int(likes * rng.uniform(0.02, 0.2))
    engagement = (clicks + likes + comments + shares) / impressions if impressions else 0.0
    return {
        "impressionCount": impressions,
        "uniqueImpressionsCount": unique,
        "clickCount": clicks,
        "likeCount": likes,
        "commentCount": comments,
        "shareCount": shares,
        "engagement": round(engagement, 6),
    }


async def _post_statistics(call: _Call, entity: str, org_id: str) -> Response:
    """Lifetime statistics of the organization's own posts named in ``shares=List(…)`` and
    ``ugcPosts=List(…)``; posts LinkedIn doesn't find for it are left out."""
    wanted: list[tuple[str, str]] = []
    for param, kind in (("shares", "share"), ("ugcPosts", "ugcPost")):
        raw = call.request.query_params.get(param)
        if raw is None:
            continue
        match = _LIST.match(raw)
        urns = [unquote(u) for u in match.group(1).split(",") if u] if match else []
        if not urns or any(not u.startswith(f"urn:li:{kind}:") for u in urns):
            return li_error(400, f"Invalid value for param {param}: {raw}", "ILLEGAL_ARGUMENT")
        wanted.extend((kind, u) for u in urns)
    if len(wanted) > POST_STATS_MAX:
        return li_error(
            400, f"At most {POST_STATS_MAX} shares and ugcPosts per request", "ILLEGAL_ARGUMENT"
        )
    elements = []
    for kind, urn in dict.fromkeys(wanted):
        post = call.state.live_post(urn)
        if post is None or post.account_id != org_id:
            continue
        elements.append(
            {
                "organizationalEntity": entity,
                kind: urn,
                "totalShareStatistics": post_statistics(post, call.now),
            }
        )
    return await call.answer(JSONResponse({"elements": elements, "paging": _paging()}))


def _paging() -> dict[str, Any]:
    return {"start": 0, "count": 10, "links": []}


def _stats(m: activity.DailyMetrics) -> dict[str, Any]:
    likes = m.engagements * 6 // 10
    comments = m.engagements * 2 // 10
    shares = m.engagements - likes - comments
    engagement = (m.clicks + likes + comments + shares) / m.impressions if m.impressions else 0.0
    return {
        "impressionCount": m.impressions,
        "uniqueImpressionsCount": m.reach,
        "clickCount": m.clicks,
        "likeCount": likes,
        "commentCount": comments,
        "shareCount": shares,
        "engagement": round(engagement, 6),
    }


@router.get("/rest/networkSizes/{urn}")
async def network_size(urn: str, request: Request) -> Response:
    call = await _begin(request, "networkSizes")
    if isinstance(call, JSONResponse):
        return call
    if request.query_params.get("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
        return li_error(400, "Invalid edgeType", "ILLEGAL_ARGUMENT")
    match = _ORG.match(urn)
    org = call.state.accounts.get(match.group(1)) if match else None
    if org is None or org.kind != "organization":
        return _not_found(f"Organization {urn}")
    followers = activity.daily_metrics(call.state, org.id, activity.utc_day(call.now)).followers
    return await call.answer(JSONResponse({"firstDegreeSize": followers}))
