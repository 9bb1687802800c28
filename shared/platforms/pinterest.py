"""Pinterest through API v5.

Connect: OAuth 2.0 authorization code on ``www.pinterest.com/oauth/`` (no PKCE); the token
endpoint ``api.pinterest.com/v5/oauth/token`` takes HTTP Basic client credentials and a form
body. Access tokens live 30 days. Refresh is *continuous refresh* (the default since September
2025): each refresh answers a new refresh token valid 60 days, so an account refreshed at
least every 60 days never has to reconnect. Pinterest has no token revocation endpoint.

The connected account is the Pinterest user (``/v5/user_account``); a pin must go on a board,
so the first of the user's boards (``/v5/boards``) is kept in ``extra["board_id"]``.

Publish: ``POST /v5/pins`` with ``media_source`` ``image_url`` (one image) or
``multiple_image_urls`` (a 2–5 image carousel); Pinterest fetches the images itself.
Reconciling an unanswered publish lists the board's pins (newest first).

Errors: ``{"code": <int>, "message": …}``; rate limits answer 429 with ``x-ratelimit-limit``,
``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (seconds until the window resets).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from shared.crypto import Sealed
from shared.http import Response
from shared.platforms.base import (
    CLIENT_REF_HEADER,
    Connector,
    expires_in,
    json_body,
    keep_refresh_token,
    retry_after_of,
    same_text,
)
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import (
    AccountAuth,
    AccountChoice,
    AuthorizeRequest,
    DailyMetrics,
    Grant,
    Limits,
    PostContent,
    PostMetrics,
    PublishAttempt,
    Published,
    RateWindow,
    RemotePost,
    TokenSet,
)

MAX_CAROUSEL = 5  # multiple_image_urls: 2 to 5 images
ANALYTICS_SPAN_DAYS = 90  # one analytics request covers at most 90 days
PAGE_SIZE = 100
MAX_PAGES = 20
_METRICS = ("IMPRESSION", "ENGAGEMENT", "PIN_CLICK", "OUTBOUND_CLICK", "SAVE")


class PinterestConnector(Connector):
    platform = "pinterest"
    display_name = "Pinterest"
    real_hosts: ClassVar[dict[str, str]] = {
        "www": "https://www.pinterest.com",
        "api": "https://api.pinterest.com",
    }
    scopes = ("boards:read", "pins:read", "pins:write", "user_accounts:read")
    limits = Limits(
        # developers.pinterest.com/docs/reference/rate-limits, Standard access, per user per
        # app per minute: org_write 100, org_read 1000, org_analytics 300 (and 100 calls per
        # second per user across all categories).
        rate_windows=(
            RateWindow("org_write", 100, 60, "user"),
            RateWindow("org_read", 1000, 60, "user"),
            RateWindow("org_analytics", 300, 60, "user"),
        ),
        publish_per_day=None,  # no documented daily pin cap
        max_concurrency=4,
        token_lifetime_s=30 * 24 * 3600,  # access tokens: 30 days
        supports_refresh=True,
        supports_reviews=False,
        supports_delete=True,
        supports_revoke=False,  # no revocation endpoint in API v5,
        publish_windows=("org_write",),
    )

    def api(self, path: str) -> str:
        return self.url("api", f"/v5{path}")

    def _basic(self) -> dict[str, str]:
        pair = f"{self.app.client_id}:{self.app.client_secret.reveal()}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": ",".join(self.scopes),
                "state": state,
            }
        )
        return AuthorizeRequest(self.url("www", f"/oauth/?{query}"))

    async def _token(self, form: dict[str, str]) -> TokenSet:
        body = json_body(
            await self.request("POST", self.api("/oauth/token"), data=form, headers=self._basic())
        )
        if not isinstance(body, dict) or not body.get("access_token"):
            raise self.error(ErrorKind.TRANSIENT, detail="token answer without an access token")
        refresh = body.get("refresh_token")
        return TokenSet(
            access_token=Sealed(str(body["access_token"])),
            refresh_token=Sealed(str(refresh)) if refresh else None,
            expires_at=expires_in(body.get("expires_in")),
            refresh_expires_at=expires_in(body.get("refresh_token_expires_in")),
            scopes=tuple(str(body.get("scope", "")).replace(",", " ").split()),
        )

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        tokens = await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )
        user = json_body(
            await self.request("GET", self.api("/user_account"), token=tokens.access_token)
        )
        boards = json_body(
            await self.request(
                "GET",
                self.api("/boards"),
                token=tokens.access_token,
                params={"page_size": "250"},
            )
        )
        items = boards.get("items", []) if isinstance(boards, dict) else []
        extra = {"board_id": str(items[0]["id"])} if items and "id" in items[0] else {}
        username = str(user.get("username") or "")
        choice = AccountChoice(
            external_id=str(user["id"]),
            name=str(user.get("business_name") or username),
            username=username or None,
            kind="user",
            extra=extra,
        )
        return Grant(tokens=tokens, choices=(choice,))

    async def refresh_token(self, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token is None:
            raise self.error(ErrorKind.AUTH, detail="no refresh token held")
        try:
            fresh = await self._token(
                {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.reveal()}
            )
        except PlatformError as exc:
            if exc.kind is ErrorKind.REJECTED:  # refused refresh token: only the user can help
                raise self.error(
                    ErrorKind.AUTH, status=exc.status, code=exc.code, detail=exc.detail
                ) from None
            raise
        return keep_refresh_token(tokens, fresh)

    # -- Publishing -----------------------------------------------------------------------------

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        board_id = auth.extra.get("board_id")
        if not board_id:
            raise self.error(
                ErrorKind.REJECTED,
                "the Pinterest account has no board to pin to; create one and reconnect",
                code="no_board",
            )
        if any(m.kind != "image" for m in content.media):
            raise self.error(
                ErrorKind.REJECTED, "Chorus pins only images to Pinterest", code="media"
            )
        if len(content.media) > MAX_CAROUSEL:
            raise self.error(
                ErrorKind.REJECTED,
                f"a Pinterest pin takes at most {MAX_CAROUSEL} images",
                code="media",
            )
        payload: dict[str, Any] = {"board_id": board_id, "description": content.text}
        if content.title:
            payload["title"] = content.title
        if content.link:
            payload["link"] = content.link
        if len(content.media) == 1:
            payload["media_source"] = {"source_type": "image_url", "url": content.media[0].url}
        elif content.media:
            payload["media_source"] = {
                "source_type": "multiple_image_urls",
                "items": [{"url": m.url} for m in content.media],
            }
        alt = next((m.alt_text for m in content.media if m.alt_text), None)
        if alt:
            payload["alt_text"] = alt
        pin = json_body(
            await self.request(
                "POST",
                self.api("/pins"),
                token=auth.access_token,
                mutating=True,
                json=payload,
                headers={CLIENT_REF_HEADER: client_ref},
            )
        )
        if not isinstance(pin, dict) or "id" not in pin:
            raise self.error(ErrorKind.AMBIGUOUS, detail="the pin answer carried no id")
        found = _remote(pin)
        return Published(found.external_id, found.permalink, found.published_at)

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        try:
            await self.request(
                "DELETE", self.api(f"/pins/{external_id}"), token=auth.access_token, mutating=True
            )
        except PlatformError as exc:
            if exc.status == 404:
                return  # already gone
            raise

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        if attempt.external_id:
            try:
                pin = json_body(
                    await self.request(
                        "GET", self.api(f"/pins/{attempt.external_id}"), token=auth.access_token
                    )
                )
            except PlatformError as exc:
                if exc.status == 404:
                    return None
                raise
            return _remote(pin)
        board_id = auth.extra.get("board_id")
        if not board_id:
            return None
        since = attempt.started_at - timedelta(seconds=60)  # clocks differ a little
        params = {"page_size": str(PAGE_SIZE)}
        for _ in range(MAX_PAGES):
            body = json_body(
                await self.request(
                    "GET",
                    self.api(f"/boards/{board_id}/pins"),
                    token=auth.access_token,
                    params=params,
                )
            )
            for pin in body.get("items", []):
                created = _pin_time(pin.get("created_at"))
                if created is not None and created < since:
                    return None  # newest first: the rest is older still
                if same_text(attempt.content.text, str(pin.get("description") or "")):
                    return _remote(pin)
            bookmark = body.get("bookmark")
            if not bookmark:
                return None
            params = {**params, "bookmark": str(bookmark)}
        return None

    # -- Listening ------------------------------------------------------------------------------

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        today = datetime.now(UTC).date()
        by_day: dict[date, dict[str, int]] = {}
        start = since
        while start <= until:
            end = min(until, start + timedelta(days=ANALYTICS_SPAN_DAYS - 1))
            body = json_body(
                await self.request(
                    "GET",
                    self.api("/user_account/analytics"),
                    token=auth.access_token,
                    params={
                        "start_date": start.isoformat(),
                        "end_date": end.isoformat(),
                        "metric_types": ",".join(_METRICS),
                        "split_field": "NO_SPLIT",
                    },
                )
            )
            for entry in body.get("all", {}).get("daily_metrics", []):
                try:
                    day = date.fromisoformat(str(entry.get("date")))
                except ValueError:
                    continue
                metrics = entry.get("metrics") or {}
                by_day[day] = {k: int(metrics.get(k) or 0) for k in _METRICS}
            start = end + timedelta(days=1)
        followers: int | None = None
        if since <= today <= until:
            user = json_body(
                await self.request("GET", self.api("/user_account"), token=auth.access_token)
            )
            count = user.get("follower_count") if isinstance(user, dict) else None
            followers = int(count) if count is not None else None
        result = []
        for i in range((until - since).days + 1):
            day = since + timedelta(days=i)
            m = by_day.get(day)
            result.append(
                DailyMetrics(
                    day=day,
                    followers=followers if day == today else None,
                    impressions=m["IMPRESSION"] if m else None,
                    engagements=m["ENGAGEMENT"] if m else None,
                    clicks=m["PIN_CLICK"] + m["OUTBOUND_CLICK"] if m else None,
                )
            )
        return result

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """``GET /v5/pins/{pin_id}/analytics`` per pin, summed over the 90 days Pinterest
        keeps (Chorus follows posts for 30): impressions, engagements, saves (as shares) and
        pin plus outbound clicks. A pin that is gone answers 404 and is left out."""
        today = datetime.now(UTC).date()
        params = {
            "start_date": (today - timedelta(days=ANALYTICS_SPAN_DAYS - 1)).isoformat(),
            "end_date": today.isoformat(),
            "metric_types": ",".join(_METRICS),
        }
        found: dict[str, PostMetrics] = {}
        for pin_id in dict.fromkeys(external_ids):
            try:
                response = await self.request(
                    "GET",
                    self.api(f"/pins/{pin_id}/analytics"),
                    token=auth.access_token,
                    params=params,
                )
            except PlatformError as exc:
                if exc.status == 404:
                    continue
                raise
            body = json_body(response)
            summary = body.get("all", {}).get("summary_metrics") if isinstance(body, dict) else None
            if not isinstance(summary, dict):
                continue
            clicks = [
                int(summary[k])
                for k in ("PIN_CLICK", "OUTBOUND_CLICK")
                if summary.get(k) is not None
            ]
            found[pin_id] = PostMetrics(
                impressions=_number(summary.get("IMPRESSION")),
                engagements=_number(summary.get("ENGAGEMENT")),
                shares=_number(summary.get("SAVE")),
                clicks=sum(clicks) if clicks else None,
            )
        return found

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        status = response.status
        message = str(body.get("message") or f"HTTP {status}")
        code = str(body["code"]) if body.get("code") is not None else None
        if status == 429:
            return self.error(
                ErrorKind.RATE_LIMITED,
                status=status,
                code=code,
                detail=message,
                retry_after=_reset_after(response),
            )
        if status >= 500:
            return self.error(
                ErrorKind.TRANSIENT,
                status=status,
                code=code,
                detail=message,
                retry_after=retry_after_of(response),
            )
        if status == 401:  # expired, revoked or unknown token (2), missing scope (3)
            return self.error(ErrorKind.AUTH, status=status, code=code, detail=message)
        if status == 403 and code not in ("29",):  # account or app not permitted
            return self.error(ErrorKind.AUTH, status=status, code=code, detail=message)
        return self.error(ErrorKind.REJECTED, message, status=status, code=code, detail=message)


def _reset_after(response: Response) -> float | None:
    """``x-ratelimit-reset`` is seconds until the window resets (an epoch value is accepted
    too, in case it ever comes as one)."""
    raw = (response.headers.get("x-ratelimit-reset") or "").strip()
    try:
        value = float(raw)
    except ValueError:
        return retry_after_of(response)
    if value > 1_000_000_000:
        return max(0.0, value - datetime.now(UTC).timestamp())
    return max(0.0, value)


def _pin_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _remote(pin: dict[str, Any]) -> RemotePost:
    pin_id = str(pin["id"])
    return RemotePost(
        pin_id, f"https://www.pinterest.com/pin/{pin_id}/", _pin_time(pin.get("created_at"))
    )


CONNECTOR = PinterestConnector


def _number(raw: Any) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
