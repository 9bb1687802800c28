"""Yelp Fusion: read-only reviews of a business.

Yelp has no OAuth for business owners' reviews: Chorus reads them with its own API key
(``CHORUS_PLATFORM_APPS={"yelp": {"client_id": "<app name>", "client_secret": "<API key>"}}``),
sent as ``Authorization: Bearer <key>``, for any business id or alias a location attaches.
Replies and publishing are not offered by the API.

- ``GET /v3/businesses/{id}``: the business (name, url, address) — checks an id on attach;
- ``GET /v3/businesses/{id}/reviews?limit=&offset=&sort_by=newest``: reviews, newest first;
  ``time_created`` is ``YYYY-MM-DD HH:MM:SS`` in Pacific time; Yelp gives no edit time.
- Errors: ``{"error": {"code": "TOKEN_INVALID" | "BUSINESS_NOT_FOUND" |
  "TOO_MANY_REQUESTS_PER_SECOND" | "ACCESS_LIMIT_REACHED" | "VALIDATION_ERROR" | …,
  "description": …}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from shared.config import Settings, get_settings
from shared.http import Response
from shared.platforms import registry
from shared.platforms.base import Connector, json_body, retry_after_of
from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.platforms.types import (
    AccountAuth,
    AuthorizeRequest,
    DailyMetrics,
    Grant,
    Limits,
    PostContent,
    PublishAttempt,
    Published,
    RateWindow,
    RemotePost,
    RemoteReview,
    ReviewPage,
)

PLATFORM = "yelp"
PAGE_SIZE = 50
PACIFIC = ZoneInfo("America/Los_Angeles")
_AUTH_CODES = {"TOKEN_INVALID", "TOKEN_MISSING", "UNAUTHORIZED_ACCESS_TOKEN", "AUTHORIZATION_ERROR"}
_RATE_CODES = {"TOO_MANY_REQUESTS_PER_SECOND", "ACCESS_LIMIT_REACHED"}


@dataclass(frozen=True, slots=True)
class YelpBusiness:
    id: str
    name: str
    url: str | None
    city: str | None


class YelpConnector(Connector):
    platform = PLATFORM
    display_name = "Yelp"
    real_hosts: ClassVar[dict[str, str]] = {"api": "https://api.yelp.com"}
    scopes = ()
    limits = Limits(
        # Yelp Fusion: 5000 calls per 24 h per API key (starter plan), and a per-second cap.
        rate_windows=(
            RateWindow("daily", 5000, 24 * 3600, "app"),
            RateWindow("per_second", 10, 1, "app"),
        ),
        publish_per_day=None,
        max_concurrency=2,
        token_lifetime_s=None,
        supports_refresh=False,
        supports_reviews=True,
        supports_delete=False,
        supports_revoke=False,
        publish_windows=(),
    )

    def auth_for(self, business_id: str) -> AccountAuth:
        """Every business is read with Chorus's own key."""
        return AccountAuth(external_id=business_id, access_token=self.app.client_secret)

    def _business(self, business_id: str, suffix: str = "") -> str:
        return self.url("api", f"/v3/businesses/{quote(business_id, safe='')}{suffix}")

    # -- Read -----------------------------------------------------------------------------------

    async def fetch_business(self, business_id: str) -> YelpBusiness:
        auth = self.auth_for(business_id)
        body = json_body(
            await self.request("GET", self._business(business_id), token=auth.access_token)
        )
        location: dict[str, Any] = (
            body["location"] if isinstance(body.get("location"), dict) else {}
        )
        return YelpBusiness(
            id=str(body.get("id") or business_id),
            name=str(body.get("name") or business_id),
            url=str(body["url"]) if body.get("url") else None,
            city=str(location["city"]) if location.get("city") else None,
        )

    async def fetch_reviews(self, auth: AccountAuth, cursor: str | None) -> ReviewPage:
        offset = int(cursor) if cursor and cursor.isdigit() else 0
        body = json_body(
            await self.request(
                "GET",
                self._business(auth.external_id, "/reviews"),
                token=auth.access_token,
                params={"limit": str(PAGE_SIZE), "offset": str(offset), "sort_by": "newest"},
            )
        )
        items = [r for r in body.get("reviews", []) if isinstance(r, dict)]
        reviews = tuple(_review(r) for r in items)
        total = int(body.get("total") or 0)
        more = bool(items) and offset + len(items) < total
        return ReviewPage(reviews, str(offset + len(items)) if more else None)

    # -- Not offered by Yelp ----------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        raise NotSupported(PLATFORM, "connecting accounts (attach a business id instead)")

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        raise NotSupported(PLATFORM, "connecting accounts (attach a business id instead)")

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        raise NotSupported(PLATFORM, "publishing")

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        raise NotSupported(PLATFORM, "deleting posts")

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        raise NotSupported(PLATFORM, "publishing")

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        raise NotSupported(PLATFORM, "metrics")

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return self.by_status(response, f"HTTP {response.status}")
        code = str(error.get("code") or "")
        reason = str(error.get("description") or code or f"HTTP {response.status}")
        if code in _RATE_CODES or response.status == 429:
            retry = retry_after_of(response)
            if retry is None:
                retry = 3600.0 if code == "ACCESS_LIMIT_REACHED" else 1.0
            return self.error(
                ErrorKind.RATE_LIMITED,
                reason,
                status=response.status,
                code=code,
                detail=reason,
                retry_after=retry,
            )
        if code in _AUTH_CODES or response.status == 401:
            return self.error(
                ErrorKind.AUTH, reason, status=response.status, code=code, detail=reason
            )
        if code == "BUSINESS_NOT_FOUND":
            return self.error(
                ErrorKind.REJECTED,
                "no Yelp business has this id",
                status=response.status,
                code=code,
                detail=reason,
            )
        return self.by_status(response, reason, code=code or None)


def _time(raw: Any) -> datetime:
    try:
        local = datetime.strptime(str(raw), "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return local.replace(tzinfo=PACIFIC).astimezone(UTC)


def _review(item: dict[str, Any]) -> RemoteReview:
    created = _time(item.get("time_created"))
    user: dict[str, Any] = item["user"] if isinstance(item.get("user"), dict) else {}
    rating = item.get("rating")
    return RemoteReview(
        external_id=str(item.get("id", "")),
        rating=int(rating) if isinstance(rating, int | float) and 1 <= rating <= 5 else None,
        text=str(item.get("text") or ""),
        author=str(user.get("name") or ""),
        created_at=created,
        updated_at=created,
        raw={k: v for k, v in item.items() if k != "user"},
    )


def connector(settings: Settings | None = None) -> YelpConnector:
    """Yelp's connector for these settings: Chorus's key from ``CHORUS_PLATFORM_APPS`` (or
    the sandbox's), sharing the platform connectors' HTTP client (closed with them)."""
    settings = settings or get_settings()
    http = registry._http(settings)
    key = (settings.platform_apps.get_secret_value(), settings.platform_sandbox_url, id(http))
    built = _built.get(key)
    if built is None:
        built = YelpConnector(
            registry.app_credentials(settings, PLATFORM),
            sandbox_url=settings.platform_sandbox_url,
            http=http,
        )
        _built[key] = built
    return built


_built: dict[tuple[Any, ...], YelpConnector] = {}
