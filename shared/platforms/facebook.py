"""Facebook Pages through the Graph API.

Connect: Facebook Login (``/dialog/oauth``), code → user token → long-lived user token
(``fb_exchange_token``), then ``/me/accounts`` lists the pages the user manages, each with its
own page token. Page tokens derived from a long-lived user token do not expire, so there is
nothing to refresh: an expired or invalidated page token is an ``auth`` error and the location
reconnects.

Publish: text and link posts on ``/{page}/feed``; one photo through ``/{page}/photos``; several
photos uploaded unpublished, then attached to one feed post (``attached_media``).

Errors: Graph answers ``{"error": {"code", "error_subcode", "message", "is_transient"}}``;
throttling comes as HTTP 400 *or* 429 with codes 4, 17, 32, 613 or 80001, so the code decides,
and how long to wait is read from ``X-Business-Use-Case-Usage`` (``estimated_time_to_regain_
access``, minutes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from shared import clock
from shared.crypto import Sealed
from shared.http import Response
from shared.platforms.base import (
    CLIENT_REF_HEADER,
    Connector,
    expires_in,
    json_body,
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
    RemoteReview,
    ReviewPage,
    TokenSet,
)

VERSION = "v21.0"
MAX_MESSAGE_LENGTH = 63_206

_AUTH_CODES = frozenset({102, 190, 10, 200, 210, 220, 230, 240, 250, 260, 270, 283, 299})
_THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001})
_TRANSIENT_CODES = frozenset({1, 2})
_INSIGHTS = {
    "page_follows": "followers",
    "page_impressions": "impressions",
    "page_impressions_unique": "reach",
    "page_post_engagements": "engagements",
    "page_total_actions": "clicks",
}

_POST_INSIGHTS = (
    "post_impressions",
    "post_impressions_unique",
    "post_clicks",
    "post_reactions_by_type_total",
)
_MISSING_OBJECT = "100"
"""Graph's code for an object that does not exist (or that the token may not see)."""
_GRAPH_ID = re.compile(r"^[0-9A-Za-z_.-]+$")


class FacebookConnector(Connector):
    platform = "facebook"
    display_name = "Facebook"
    real_hosts: ClassVar[dict[str, str]] = {
        "www": "https://www.facebook.com",
        "graph": "https://graph.facebook.com",
    }
    scopes = (
        "pages_show_list",
        "pages_manage_posts",
        "pages_read_engagement",
        "pages_read_user_content",
        "pages_manage_engagement",
        "read_insights",
    )
    limits = Limits(
        # Pages Business Use Case rate limit: 4800 calls x engaged users per page per 24 h.
        rate_windows=(RateWindow("pages", 4800, 24 * 3600, "account"),),
        publish_per_day=None,
        max_concurrency=4,
        token_lifetime_s=None,  # page tokens from a long-lived user token do not expire
        supports_refresh=False,
        supports_reviews=True,
        supports_delete=True,
        supports_revoke=True,
        publish_windows=("pages",),
    )

    def graph(self, path: str) -> str:
        return self.url("graph", f"/{VERSION}{path}")

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize_url(self, state: str, redirect_uri: str) -> AuthorizeRequest:
        query = urlencode(
            {
                "client_id": self.app.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": ",".join(self.scopes),
                "response_type": "code",
            }
        )
        return AuthorizeRequest(self.url("www", f"/{VERSION}/dialog/oauth?{query}"))

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Grant:
        secret = self.app.client_secret.reveal()
        short = json_body(
            await self.request(
                "GET",
                self.graph("/oauth/access_token"),
                params={
                    "client_id": self.app.client_id,
                    "client_secret": secret,
                    "redirect_uri": redirect_uri,
                    "code": code,
                },
            )
        )
        long = json_body(
            await self.request(
                "GET",
                self.graph("/oauth/access_token"),
                params={
                    "grant_type": "fb_exchange_token",
                    "client_id": self.app.client_id,
                    "client_secret": secret,
                    "fb_exchange_token": str(short.get("access_token", "")),
                },
            )
        )
        user_token = Sealed(str(long["access_token"]))
        pages = json_body(
            await self.request(
                "GET",
                self.graph("/me/accounts"),
                token=user_token,
                params={"fields": "id,name,access_token,tasks", "limit": "100"},
            )
        )
        choices = tuple(
            AccountChoice(
                external_id=str(page["id"]),
                name=str(page.get("name", "")),
                kind="page",
                access_token=Sealed(str(page["access_token"])),
            )
            for page in pages.get("data", [])
            if page.get("access_token")
        )
        tokens = TokenSet(access_token=user_token, expires_at=expires_in(long.get("expires_in")))
        return Grant(tokens=tokens, choices=choices)

    async def revoke(self, auth: AccountAuth) -> bool:
        """Removes the app from the page (``DELETE /{page}/subscribed_apps`` needs more than
        Chorus holds); what Graph offers a page token is revoking its own login."""
        await self.request(
            "DELETE", self.graph("/me/permissions"), token=auth.access_token, mutating=True
        )
        return True

    # -- Publishing -----------------------------------------------------------------------------

    async def publish(self, auth: AccountAuth, content: PostContent, client_ref: str) -> Published:
        if len(content.text) > MAX_MESSAGE_LENGTH:
            raise self.error(
                ErrorKind.REJECTED,
                f"the post is longer than Facebook's {MAX_MESSAGE_LENGTH} characters",
                code="too_long",
            )
        page = auth.external_id
        headers = {CLIENT_REF_HEADER: client_ref}
        images = [m for m in content.media if m.kind == "image"]
        if len(images) == 1 and not content.link:
            answer = json_body(
                await self.request(
                    "POST",
                    self.graph(f"/{page}/photos"),
                    token=auth.access_token,
                    mutating=True,
                    data={"url": images[0].url, "caption": content.text},
                    headers=headers,
                )
            )
            return self._published(str(answer.get("post_id") or answer["id"]))
        form: dict[str, str] = {"message": content.text}
        if content.link:
            form["link"] = content.link
        for i, image in enumerate(images if not content.link else []):
            # Uploading an unpublished photo posts nothing: safe to repeat.
            photo = json_body(
                await self.request(
                    "POST",
                    self.graph(f"/{page}/photos"),
                    token=auth.access_token,
                    data={"url": image.url, "published": "false"},
                )
            )
            form[f"attached_media[{i}]"] = json.dumps({"media_fbid": str(photo["id"])})
        answer = json_body(
            await self.request(
                "POST",
                self.graph(f"/{page}/feed"),
                token=auth.access_token,
                mutating=True,
                data=form,
                headers=headers,
            )
        )
        return self._published(str(answer["id"]))

    def _published(self, post_id: str) -> Published:
        """Graph answers the publish with the post's id only; its permalink is the page's
        post URL, built rather than read back (one call per publish, not two)."""
        return Published(
            external_id=post_id,
            permalink=_permalink(post_id),
            published_at=clock.now(),
        )

    async def _get_post(self, auth: AccountAuth, post_id: str) -> Published | None:
        try:
            body = json_body(
                await self.request(
                    "GET",
                    self.graph(f"/{post_id}"),
                    token=auth.access_token,
                    params={"fields": "id,message,created_time,permalink_url"},
                )
            )
        except PlatformError as exc:
            if exc.kind is ErrorKind.REJECTED and exc.code == "100":
                return None  # no such object (or deleted)
            raise
        return Published(
            external_id=str(body["id"]),
            permalink=body.get("permalink_url"),
            published_at=_graph_time(body.get("created_time")),
        )

    async def delete(self, auth: AccountAuth, external_id: str) -> None:
        await self.request(
            "DELETE", self.graph(f"/{external_id}"), token=auth.access_token, mutating=True
        )

    async def fetch_post_status(
        self, auth: AccountAuth, attempt: PublishAttempt
    ) -> RemotePost | None:
        if attempt.external_id:
            found = await self._get_post(auth, attempt.external_id)
            return _remote(found) if found else None
        since = int(attempt.started_at.timestamp()) - 60  # clocks differ a little
        params = {
            "fields": "id,message,created_time,permalink_url",
            "since": str(since),
            "limit": "100",
        }
        while True:
            body = json_body(
                await self.request(
                    "GET",
                    self.graph(f"/{auth.external_id}/published_posts"),
                    token=auth.access_token,
                    params=params,
                )
            )
            for post in body.get("data", []):
                if same_text(attempt.content.text, str(post.get("message", ""))):
                    return RemotePost(
                        external_id=str(post["id"]),
                        permalink=post.get("permalink_url"),
                        published_at=_graph_time(post.get("created_time")),
                    )
            after = body.get("paging", {}).get("cursors", {}).get("after")
            if not body.get("paging", {}).get("next") or not after:
                return None
            params = {**params, "after": str(after)}

    # -- Listening ------------------------------------------------------------------------------

    async def fetch_reviews(self, auth: AccountAuth, cursor: str | None) -> ReviewPage:
        params = {
            "fields": "created_time,recommendation_type,rating,review_text,reviewer,"
            "open_graph_story,replies",
            "limit": "50",
        }
        if cursor:
            params["after"] = cursor
        body = json_body(
            await self.request(
                "GET",
                self.graph(f"/{auth.external_id}/ratings"),
                token=auth.access_token,
                params=params,
            )
        )
        reviews = tuple(_review(item) for item in body.get("data", []))
        paging = body.get("paging", {})
        after = paging.get("cursors", {}).get("after")
        return ReviewPage(reviews, str(after) if paging.get("next") and after else None)

    # A reply is the page's comment on the recommendation's story; a comment is edited with
    # ``POST /{comment-id}`` (``message``) and removed with ``DELETE /{comment-id}``.
    can_reply = True
    can_edit_reply = True
    can_delete_reply = True
    reply_needs_id = True

    async def reply_to_review(self, auth: AccountAuth, review_id: str, text: str) -> str | None:
        body = json_body(
            await self.request(
                "POST",
                self.graph(f"/{review_id}/comments"),
                token=auth.access_token,
                mutating=True,
                data={"message": text},
            )
        )
        return str(body["id"]) if body.get("id") else None

    def _comment(self, reply_id: str | None) -> str:
        if not reply_id or not _GRAPH_ID.match(reply_id):
            raise self.error(ErrorKind.REJECTED, "the reply was not found", code="bad_reply")
        return self.graph(f"/{reply_id}")

    async def edit_review_reply(
        self, auth: AccountAuth, review_id: str, reply_id: str | None, text: str
    ) -> None:
        await self.request(
            "POST",
            self._comment(reply_id),
            token=auth.access_token,
            mutating=True,
            data={"message": text},
        )

    async def delete_review_reply(
        self, auth: AccountAuth, review_id: str, reply_id: str | None
    ) -> None:
        try:
            await self.request(
                "DELETE", self._comment(reply_id), token=auth.access_token, mutating=True
            )
        except PlatformError as exc:
            if not (exc.kind is ErrorKind.REJECTED and exc.code == _MISSING_OBJECT):
                raise  # else: already deleted (an earlier attempt whose answer was lost)

    async def fetch_metrics(
        self, auth: AccountAuth, since: date, until: date
    ) -> list[DailyMetrics]:
        body = json_body(
            await self.request(
                "GET",
                self.graph(f"/{auth.external_id}/insights"),
                token=auth.access_token,
                params={
                    "metric": ",".join(_INSIGHTS),
                    "period": "day",
                    "since": since.isoformat(),
                    "until": (until + timedelta(days=1)).isoformat(),
                },
            )
        )
        by_day: dict[date, dict[str, int]] = {}
        for series in body.get("data", []):
            field = _INSIGHTS.get(str(series.get("name")))
            if field is None:
                continue
            for value in series.get("values", []):
                end = _graph_time(value.get("end_time"))
                if end is None:
                    continue
                day = (end - timedelta(days=1)).date()
                by_day.setdefault(day, {})[field] = int(value.get("value") or 0)
        days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
        return [DailyMetrics(day=d, **by_day.get(d, {})) for d in days]

    async def fetch_post_metrics(
        self, auth: AccountAuth, external_ids: Sequence[str]
    ) -> dict[str, PostMetrics]:
        """Lifetime Post Insights, one ``GET /{post-id}/insights`` per post with the page
        token: impressions, unique impressions (reach), clicks and reactions by type. A post
        gone from the page answers code 100 and is left out."""
        found: dict[str, PostMetrics] = {}
        for post_id in dict.fromkeys(external_ids):
            try:
                response = await self.request(
                    "GET",
                    self.graph(f"/{post_id}/insights"),
                    token=auth.access_token,
                    params={"metric": ",".join(_POST_INSIGHTS)},
                )
            except PlatformError as exc:
                if exc.kind is ErrorKind.REJECTED and exc.code == _MISSING_OBJECT:
                    continue
                raise
            body = json_body(response)
            values: dict[str, Any] = {}
            for series in body.get("data", []) if isinstance(body, dict) else []:
                points = series.get("values") if isinstance(series, dict) else None
                if isinstance(points, list) and points and isinstance(points[-1], dict):
                    values[str(series.get("name"))] = points[-1].get("value")
            found[post_id] = _post_metrics(values)
        return found

    # -- Errors ---------------------------------------------------------------------------------

    def classify(self, response: Response) -> PlatformError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return self.by_status(response, f"HTTP {response.status}")
        code = _int(error.get("code"))
        subcode = _int(error.get("error_subcode"))
        message = str(error.get("message", "")).strip()
        shown = str(code) if code is not None else None
        if code in _THROTTLE_CODES:
            return self.error(
                ErrorKind.RATE_LIMITED,
                status=response.status,
                code=shown,
                detail=message,
                retry_after=_regain_after(response),
            )
        if code in _AUTH_CODES or (code is not None and 200 <= code <= 299):
            return self.error(
                ErrorKind.AUTH,
                status=response.status,
                code=shown,
                detail=f"{message} (subcode {subcode})" if subcode else message,
            )
        if code in _TRANSIENT_CODES or error.get("is_transient") or response.status >= 500:
            return self.error(
                ErrorKind.TRANSIENT, status=response.status, code=shown, detail=message
            )
        return self.error(
            ErrorKind.REJECTED, message, status=response.status, code=shown, detail=message
        )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _regain_after(response: Response) -> float | None:
    """Seconds until Graph lets the page call again, from the usage headers."""
    raw = response.headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        int(entry.get("estimated_time_to_regain_access") or 0)
        for entries in usage.values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    return 60.0 * max(minutes) if minutes else None


def _graph_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    except ValueError:
        return None


def _permalink(post_id: str) -> str:
    page_id, _, story = post_id.partition("_")
    return f"https://www.facebook.com/{page_id}/posts/{story or page_id}"


def _remote(found: Published) -> RemotePost:
    return RemotePost(found.external_id, found.permalink, found.published_at)


def _review(item: dict[str, Any]) -> RemoteReview:
    created = _graph_time(item.get("created_time")) or datetime.now(UTC)
    replies = item.get("replies", {}).get("data", [])
    reply = replies[-1] if replies else None
    rating = _int(item.get("rating"))
    recommends = item.get("recommendation_type")
    return RemoteReview(
        external_id=str(item.get("open_graph_story", {}).get("id", "")),
        rating=rating,
        text=str(item.get("review_text", "")),
        author=str(item.get("reviewer", {}).get("name", "")),
        created_at=created,
        updated_at=created,
        reply_text=str(reply["message"]) if reply else None,
        reply_updated_at=_graph_time(reply.get("created_time")) if reply else None,
        reply_id=str(reply["id"]) if reply and reply.get("id") else None,
        recommends=None if recommends is None else recommends == "positive",
        raw={k: v for k, v in item.items() if k != "reviewer"},
    )


CONNECTOR = FacebookConnector


def _post_metrics(values: dict[str, Any]) -> PostMetrics:
    """Post Insights as Chorus's numbers: likes are the ``like`` reactions, engagements every
    reaction plus the clicks (what the insights asked for give)."""
    reactions = values.get("post_reactions_by_type_total")
    by_type = (
        {str(k): _int(v) or 0 for k, v in reactions.items()} if isinstance(reactions, dict) else {}
    )
    clicks = _int(values.get("post_clicks"))
    engaged = [n for n in (sum(by_type.values()) if by_type else None, clicks) if n is not None]
    return PostMetrics(
        impressions=_int(values.get("post_impressions")),
        reach=_int(values.get("post_impressions_unique")),
        clicks=clicks,
        likes=by_type.get("like", 0) if isinstance(reactions, dict) else None,
        engagements=sum(engaged) if engaged else None,
    )
