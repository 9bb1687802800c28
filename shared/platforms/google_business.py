"""Google Business Profile: local posts, reviews and performance metrics of business locations.

Connect: Google OAuth (see ``_google``) with the ``business.manage`` scope, then the account
management API lists the user's accounts and the business information API each account's
locations; a location is connected as ``accounts/{a}/locations/{l}``.

Publish: a v4 local post (``topicType`` STANDARD) with the text as ``summary``, the link as a
``LEARN_MORE`` call to action and one photo; the post's ``name`` is its external id and
``searchUrl`` its permalink. Reviews and replies come from the v4 reviews API; metrics from the
Business Profile Performance API (impressions: the four ``BUSINESS_IMPRESSIONS_*`` series;
clicks: website, call and direction requests).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from shared.platforms._google import GOOGLE_HOSTS, GoogleConnector, parse_time
from shared.platforms.base import CLIENT_REF_HEADER, json_body, same_text
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import (
    AccountAuth,
    AccountChoice,
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

MAX_SUMMARY_CHARS = 1500
MAX_REPLY_BYTES = 4096
IMPRESSIONS = (
    "BUSINESS_IMPRESSIONS_DESKTOP_MAPS",
    "BUSINESS_IMPRESSIONS_DESKTOP_SEARCH",
    "BUSINESS_IMPRESSIONS_MOBILE_MAPS",
    "BUSINESS_IMPRESSIONS_MOBILE_SEARCH",
)
CLICKS = ("WEBSITE_CLICKS", "CALL_CLICKS", "BUSINESS_DIRECTION_REQUESTS")
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
_LOCATION = re.compile(r"^accounts/[0-9A-Za-z_-]+/locations/[0-9A-Za-z_-]+$")
_SEGMENT = re.compile(r"^[0-9A-Za-z_.-]+$")


class GoogleBusinessConnector(GoogleConnector):
    platform = "google_business"
    display_name = "Google Business Profile"
    real_hosts: ClassVar[dict[str, str]] = {
        **GOOGLE_HOSTS,
        "account_management": "https://mybusinessaccountmanagement.googleapis.com",
        "business_information": "https://mybusinessbusinessinformation.googleapis.com",
        "mybusiness": "https://mybusiness.googleapis.com",
        "performance": "https://businessprofileperformance.googleapis.com",
    }
    scopes = ("https://www.googleapis.com/auth/business.manage",)
    language = "en"
    limits = Limits(
        # developers.google.com/my-business/content/limits: 300 queries per minute per project
        # (each Business Profile API), and 10 edits per minute per location.
        rate_windows=(
            RateWindow("project_qpm", 300, 60, "app"),
            RateWindow("location_edits", 10, 60, "account"),
        ),
        publish_per_day=None,
        max_concurrency=2,
        token_lifetime_s=3599,
        supports_refresh=True,
        supports_reviews=True,
        supports_delete=True,
        supports_revoke=True,
        publish_windows=("location_edits", "project_qpm"),
    )
    quota_retry_after = 60.0  # the quotas are per minute; 429s come without Retry-After

    # -- OAuth ----------------------------------------------------------------------------------

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        tokens = await self.exchange_tokens(code, redirect_uri, code_verifier)
        choices: list[AccountChoice] = []
        accounts = await self._pages(
            self.url("account_management", "/v1/accounts"), tokens.access_token, "accounts", {}
        )
        for account in accounts:
            account_name = str(account.get("name", ""))
            locations = await self._pages(
                self.url("business_information", f"/v1/{account_name}/locations"),
                tokens.access_token,
                "locations",
                {"readMask": "name,title,storefrontAddress", "pageSize": "100"},
            )
            for location in locations:
                location_id = str(location.get("name", "")).rpartition("/")[2]
                address = location.get("storefrontAddress") or {}
                lines = [*address.get("addressLines", []), address.get("locality", "")]
                choices.append(
                    AccountChoice(
                        external_id=f"{account_name}/locations/{location_id}",
                        name=str(location.get("title", "")),
                        kind="location",
                        extra={"address": ", ".join(str(x) for x in lines if x)},
                    )
                )
        return Grant(tokens=tokens, choices=tuple(choices))

    async def _pages(
        self, url: str, token: Any, key: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page_token: str | None = None
        for _ in range(50):
            query = {**params, **({"pageToken": page_token} if page_token else {})}
            body = json_body(await self.request("GET", url, token=token, params=query or None))
            found.extend(item for item in body.get(key, []) if isinstance(item, dict))
            page_token = body.get("nextPageToken")
            if not page_token:
                break
        return found

    # -- Publishing -----------------------------------------------------------------------------

    def _v4(self, path: str) -> str:
        return self.url("mybusiness", f"/v4/{path}")

    def _location(self, auth: AccountAuth) -> str:
        if not _LOCATION.match(auth.external_id):
            raise self.error(
                ErrorKind.REJECTED, "the connected location id is malformed", code="bad_location"
            )
        return auth.external_id

    def _post_name(self, auth: AccountAuth, external_id: str) -> str:
        prefix = f"{self._location(auth)}/localPosts/"
        post_id = external_id.removeprefix(prefix)
        if post_id == external_id or not _SEGMENT.match(post_id):
            raise self.error(
                ErrorKind.REJECTED, "that post does not belong to this location", code="bad_post"
            )
        return external_id

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        body: dict[str, Any] = {
            "languageCode": self.language,
            "summary": content.text,
            "topicType": "STANDARD",
        }
        if content.link:
            body["callToAction"] = {"actionType": "LEARN_MORE", "url": content.link}
        if content.media:
            body["media"] = [
                {"mediaFormat": "PHOTO" if m.kind == "image" else "VIDEO", "sourceUrl": m.url}
                for m in content.media
            ]
        answer = json_body(
            await self.request(
                "POST",
                self._v4(f"{self._location(auth)}/localPosts"),
                token=auth.access_token,
                mutating=True,
                json=body,
                headers={CLIENT_REF_HEADER: client_ref},
            )
        )
        return Published(
            external_id=str(answer["name"]),
            permalink=answer.get("searchUrl"),
            published_at=parse_time(answer.get("createTime")),
        )

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        """A post that is already gone (404) counts as deleted."""
        try:
            await self.request(
                "DELETE",
                self._v4(self._post_name(auth, external_id)),
                token=auth.access_token,
                mutating=True,
            )
        except PlatformError as exc:
            if exc.status != 404:
                raise

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        if attempt.external_id:
            try:
                post = json_body(
                    await self.request(
                        "GET",
                        self._v4(self._post_name(auth, attempt.external_id)),
                        token=auth.access_token,
                    )
                )
            except PlatformError as exc:
                if exc.status == 404:
                    return None
                raise
            return _remote(post)
        since = attempt.started_at - timedelta(minutes=1)  # clocks differ a little
        params = {"pageSize": "100"}
        for _ in range(20):
            body = json_body(
                await self.request(
                    "GET",
                    self._v4(f"{self._location(auth)}/localPosts"),
                    token=auth.access_token,
                    params=params,
                )
            )
            posts = [p for p in body.get("localPosts", []) if isinstance(p, dict)]
            for post in posts:  # newest first
                if same_text(attempt.content.text, str(post.get("summary", ""))):
                    created = parse_time(post.get("createTime"))
                    if created is None or created >= since:
                        return _remote(post)
            oldest = parse_time(posts[-1].get("createTime")) if posts else None
            token = body.get("nextPageToken")
            if not token or (oldest is not None and oldest < since):
                return None
            params = {**params, "pageToken": str(token)}
        return None

    # -- Listening ------------------------------------------------------------------------------

    async def fetch_reviews(self, auth: AccountAuth, cursor: str | None) -> ReviewPage:
        params = {"pageSize": "50", "orderBy": "updateTime desc"}
        if cursor:
            params["pageToken"] = cursor
        body = json_body(
            await self.request(
                "GET",
                self._v4(f"{self._location(auth)}/reviews"),
                token=auth.access_token,
                params=params,
            )
        )
        reviews = tuple(_review(r) for r in body.get("reviews", []) if isinstance(r, dict))
        next_token = body.get("nextPageToken")
        return ReviewPage(reviews, str(next_token) if next_token else None)

    # reviews.updateReply creates or replaces the one reply; reviews.deleteReply removes it.
    can_reply = True
    can_edit_reply = True
    can_delete_reply = True

    def _reply_url(self, auth: AccountAuth, review_id: str) -> str:
        if not _SEGMENT.match(review_id):
            raise self.error(ErrorKind.REJECTED, "unknown review", code="bad_review")
        return self._v4(f"{self._location(auth)}/reviews/{quote(review_id)}/reply")

    async def reply_to_review(self, auth: AccountAuth, review_id: str, text: str) -> str | None:
        await self.request(
            "PUT",
            self._reply_url(auth, review_id),
            token=auth.access_token,
            mutating=True,
            json={"comment": text},
        )
        return None  # the reply is the review's own: ``…/reviews/{id}/reply``

    async def edit_review_reply(
        self, auth: AccountAuth, review_id: str, reply_id: str | None, text: str
    ) -> None:
        await self.reply_to_review(auth, review_id, text)

    async def delete_review_reply(
        self, auth: AccountAuth, review_id: str, reply_id: str | None
    ) -> None:
        try:
            await self.request(
                "DELETE", self._reply_url(auth, review_id), token=auth.access_token, mutating=True
            )
        except PlatformError as exc:
            if exc.status != 404:
                raise  # a 404: no reply there any more (an earlier attempt's answer was lost)

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        location_id = self._location(auth).rpartition("/")[2]
        query: list[tuple[str, str]] = [("dailyMetrics", m) for m in (*IMPRESSIONS, *CLICKS)]
        for which, day in (("startDate", since), ("endDate", until)):
            query += [
                (f"dailyRange.{which}.year", str(day.year)),
                (f"dailyRange.{which}.month", str(day.month)),
                (f"dailyRange.{which}.day", str(day.day)),
            ]
        url = self.url(
            "performance",
            f"/v1/locations/{location_id}:fetchMultiDailyMetricsTimeSeries?{urlencode(query)}",
        )
        body = json_body(await self.request("GET", url, token=auth.access_token))
        values: dict[date, dict[str, int]] = {}
        for multi in body.get("multiDailyMetricTimeSeries", []):
            for series in multi.get("dailyMetricTimeSeries", []):
                metric = str(series.get("dailyMetric", ""))
                for point in series.get("timeSeries", {}).get("datedValues", []):
                    when = _date(point.get("date"))
                    if when is not None:
                        values.setdefault(when, {})[metric] = int(point.get("value") or 0)
        result = []
        for i in range((until - since).days + 1):
            day = since + timedelta(days=i)
            found = values.get(day)
            if found is None:
                result.append(DailyMetrics(day=day))
                continue
            result.append(
                DailyMetrics(
                    day=day,
                    impressions=sum(found.get(m, 0) for m in IMPRESSIONS),
                    clicks=sum(found.get(m, 0) for m in CLICKS),
                )
            )
        return result


def _date(raw: Any) -> date | None:
    if not isinstance(raw, dict):
        return None
    try:
        return date(int(raw["year"]), int(raw["month"]), int(raw["day"]))
    except (KeyError, TypeError, ValueError):
        return None


def _remote(post: dict[str, Any]) -> RemotePost:
    return RemotePost(
        external_id=str(post["name"]),
        permalink=post.get("searchUrl"),
        published_at=parse_time(post.get("createTime")),
    )


def _review(item: dict[str, Any]) -> RemoteReview:
    created = parse_time(item.get("createTime")) or datetime.now(UTC)
    reply = item.get("reviewReply") or {}
    reviewer = item.get("reviewer") or {}
    author = "Anonymous" if reviewer.get("isAnonymous") else str(reviewer.get("displayName", ""))
    return RemoteReview(
        external_id=str(item.get("reviewId", "")),
        rating=STARS.get(str(item.get("starRating", ""))),
        text=str(item.get("comment", "")),
        author=author,
        created_at=created,
        updated_at=parse_time(item.get("updateTime")) or created,
        reply_text=str(reply["comment"]) if reply.get("comment") is not None else None,
        reply_updated_at=parse_time(reply.get("updateTime")),
        raw={k: v for k, v in item.items() if k != "reviewer"},
    )


CONNECTOR = GoogleBusinessConnector
