"""Google Business Profile connector against the sandbox, over real HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from services.sandbox import activity
from services.sandbox.state import PlatformState
from shared.http import Response
from shared.platforms._google import seconds_to_pacific_midnight
from shared.platforms.errors import ErrorKind
from shared.platforms.google_business import GoogleBusinessConnector
from shared.platforms.types import AccountAuth, Media, PostContent, PublishAttempt, TokenSet
from tests.platforms.conftest import (
    REDIRECT_URI,
    auth_for,
    connect,
    consent,
    expect,
    set_faults,
)

P = "google_business"
LOCATION = re.compile(r"^accounts/\d+/locations/\d+$")
Make = Callable[..., Any]


@pytest.fixture
def gbp(make_connector: Make) -> GoogleBusinessConnector:
    connector: GoogleBusinessConnector = make_connector(GoogleBusinessConnector)
    return connector


async def _connected(gbp: GoogleBusinessConnector) -> tuple[TokenSet, AccountAuth]:
    grant = await connect(gbp)
    return grant.tokens, auth_for(grant)


async def _counts(sandbox: httpx.AsyncClient) -> dict[str, int]:
    r = await sandbox.get(f"/_sandbox/publish-counts/{P}")
    counts: dict[str, int] = r.json()["counts"]
    return counts


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        CIMultiDictProxy(CIMultiDict(headers or {})),
        json.dumps(body).encode(),
        URL("https://mybusiness.googleapis.com/v4/x"),
    )


# --- OAuth ---------------------------------------------------------------------------------------


def test_authorize_url_asks_for_offline_access_with_pkce(gbp: GoogleBusinessConnector) -> None:
    request = gbp.authorize_url("st-9", REDIRECT_URI)
    q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert urlsplit(request.url).path.endswith("/o/oauth2/v2/auth")
    assert q["access_type"] == "offline"
    assert q["prompt"] == "consent"
    assert q["include_granted_scopes"] == "true"
    assert q["code_challenge_method"] == "S256"
    assert request.code_verifier
    assert q["code_challenge"] != request.code_verifier
    assert q["scope"] == "https://www.googleapis.com/auth/business.manage"
    assert q["state"] == "st-9"
    assert q["redirect_uri"] == REDIRECT_URI


async def test_connect_lists_the_users_locations(gbp: GoogleBusinessConnector) -> None:
    grant = await connect(gbp)
    assert 2 <= len(grant.choices) <= 3
    accounts = {c.external_id.split("/locations/")[0] for c in grant.choices}
    assert len(accounts) == 1
    for choice in grant.choices:
        assert LOCATION.match(choice.external_id)
        assert choice.kind == "location"
        assert choice.name
        assert choice.extra["address"]
        assert choice.access_token is None
    assert grant.tokens.refresh_token
    assert grant.tokens.expires_at is not None
    left = (grant.tokens.expires_at - datetime.now(UTC)).total_seconds()
    assert 3500 < left <= 3600
    # A second user sees only their own locations.
    other = await connect(gbp)
    assert not {c.external_id for c in other.choices} & {c.external_id for c in grant.choices}


async def test_denied_consent_redirects_with_access_denied(gbp: GoogleBusinessConnector) -> None:
    request = gbp.authorize_url("st-1", REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(request.url + "&sandbox_deny=1")
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["error"] == ["access_denied"]
    assert back["state"] == ["st-1"]
    assert "code" not in back


async def test_pkce_verifier_is_checked(gbp: GoogleBusinessConnector) -> None:
    code, verifier = await consent(gbp)
    assert verifier
    err = await expect(ErrorKind.AUTH, gbp.exchange_code(code, REDIRECT_URI, verifier[::-1]))
    assert err.code == "invalid_grant"
    # The code was used up by the failed attempt, as at Google.
    await expect(ErrorKind.AUTH, gbp.exchange_code(code, REDIRECT_URI, verifier))
    code, verifier = await consent(gbp)
    await expect(ErrorKind.REJECTED, gbp.exchange_code(code, REDIRECT_URI, None))


async def test_refresh_keeps_the_refresh_token(gbp: GoogleBusinessConnector) -> None:
    tokens, auth = await _connected(gbp)
    assert tokens.refresh_token
    first = await gbp.refresh_token(tokens)
    second = await gbp.refresh_token(first)
    for fresh in (first, second):
        assert fresh.refresh_token is not None
        assert fresh.refresh_token.reveal() == tokens.refresh_token.reveal()
        assert fresh.access_token.reveal() != tokens.access_token.reveal()
        assert fresh.expires_at is not None
        assert fresh.expires_at > datetime.now(UTC)
    page = await gbp.fetch_reviews(AccountAuth(auth.external_id, second.access_token), None)
    assert page.reviews


async def test_expired_access_token_is_auth_until_refreshed(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient
) -> None:
    tokens, auth = await _connected(gbp)
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 3600})
    err = await expect(ErrorKind.AUTH, gbp.publish(auth, PostContent("Hello"), "ref-exp"))
    assert err.status == 401
    assert tokens.access_token.reveal() not in repr(err) + str(err) + str(err.detail)
    fresh = await gbp.refresh_token(tokens)
    published = await gbp.publish(
        AccountAuth(auth.external_id, fresh.access_token), PostContent("Hello"), "ref-exp"
    )
    assert published.external_id
    assert await _counts(sandbox) == {"ref-exp": 1}


async def test_revoke_ends_the_whole_grant(gbp: GoogleBusinessConnector) -> None:
    tokens, auth = await _connected(gbp)
    assert await gbp.revoke(auth) is True
    await expect(ErrorKind.AUTH, gbp.fetch_reviews(auth, None))
    err = await expect(ErrorKind.AUTH, gbp.refresh_token(tokens))
    assert err.code == "invalid_grant"
    assert await gbp.revoke(auth) is True  # already revoked: nothing left to do


async def test_token_endpoint_faults(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient
) -> None:
    tokens, _ = await _connected(gbp)
    await set_faults(sandbox, P, error_rates={"server_error": 1.0})
    await expect(ErrorKind.TRANSIENT, gbp.refresh_token(tokens))
    await set_faults(sandbox, P, error_rates={"rate_limited": 1.0})
    await expect(ErrorKind.RATE_LIMITED, gbp.refresh_token(tokens))
    await set_faults(sandbox, P, error_rates={"auth_revoked": 1.0})
    await expect(ErrorKind.AUTH, gbp.refresh_token(tokens))


# --- Publishing ----------------------------------------------------------------------------------


async def test_publish_a_local_post_with_link_and_photo(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient
) -> None:
    _, auth = await _connected(gbp)
    content = PostContent(
        "Two-for-one pizza every Tuesday!",
        link="https://example.com/deals",
        media=(Media("https://example.com/pizza.jpg"),),
    )
    published = await gbp.publish(auth, content, "ref-1")
    assert published.external_id.startswith(f"{auth.external_id}/localPosts/")
    assert published.permalink
    assert published.permalink.startswith("https://local.google.com/")
    assert published.published_at is not None
    assert abs((published.published_at - datetime.now(UTC)).total_seconds()) < 60
    posts = (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"]
    assert [(p["text"], p["link"]) for p in posts] == [
        ("Two-for-one pizza every Tuesday!", "https://example.com/deals")
    ]
    assert await _counts(sandbox) == {"ref-1": 1}
    attempt = PublishAttempt("ref-1", content, datetime.now(UTC), published.external_id)
    found = await gbp.fetch_post_status(auth, attempt)
    assert found is not None
    assert found.external_id == published.external_id
    assert found.permalink == published.permalink


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (PostContent("x" * 1501), "1500"),
        (PostContent("Watch this", media=(Media("https://e.com/v.mp4", "video"),)), "PHOTO"),
        (
            PostContent("Two", media=(Media("https://e.com/1.jpg"), Media("https://e.com/2.jpg"))),
            "one photo",
        ),
        (PostContent("   "), "summary"),
    ],
)
async def test_publish_rejections(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient, content: PostContent, said: str
) -> None:
    _, auth = await _connected(gbp)
    err = await expect(ErrorKind.REJECTED, gbp.publish(auth, content, "ref-bad"))
    assert err.status == 400
    assert said in err.message
    assert await _counts(sandbox) == {}


async def test_publish_to_someone_elses_location_is_auth(gbp: GoogleBusinessConnector) -> None:
    _, mine = await _connected(gbp)
    _, theirs = await _connected(gbp)
    stolen = AccountAuth(theirs.external_id, mine.access_token)
    err = await expect(ErrorKind.AUTH, gbp.publish(stolen, PostContent("Hi"), "ref-x"))
    assert err.status == 403


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_publish_faults(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    _, auth = await _connected(gbp)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    err = await expect(kind, gbp.publish(auth, PostContent("Hello"), "ref-f"))
    if kind is ErrorKind.RATE_LIMITED:
        assert err.status == 429
        assert err.retry_after == 60.0
    assert await _counts(sandbox) == {}


async def test_ten_edits_per_minute_per_location(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient
) -> None:
    grant = await connect(gbp)
    auth = auth_for(grant)
    for i in range(10):
        await gbp.publish(auth, PostContent(f"Post {i}"), f"ref-{i}")
    err = await expect(ErrorKind.RATE_LIMITED, gbp.publish(auth, PostContent("11"), "ref-11"))
    assert err.retry_after == 60.0
    # Another location of the same user has its own allowance.
    await gbp.publish(auth_for(grant, 1), PostContent("Elsewhere"), "ref-other")
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 61})
    await gbp.publish(auth, PostContent("A minute later"), "ref-12")
    assert "ref-11" not in await _counts(sandbox)


async def test_project_quota_of_300_queries_per_minute(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient
) -> None:
    tokens, auth = await _connected(gbp)  # 2 account-management/business-information calls
    headers = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
    path = f"/{P}/v4/{auth.external_id}/reviews"
    statuses = [(await sandbox.get(path, headers=headers)).status_code for _ in range(301)]
    assert statuses[:300] == [200] * 300
    assert statuses[300] == 429
    err = await expect(ErrorKind.RATE_LIMITED, gbp.fetch_reviews(auth, None))
    assert err.code in ("RATE_LIMIT_EXCEEDED", "rateLimitExceeded")
    # Other APIs have their own quota.
    assert await gbp.fetch_metrics(auth, datetime.now(UTC).date(), datetime.now(UTC).date())


async def test_ambiguous_publish_is_reconciled_without_repeating(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    slow: GoogleBusinessConnector = make_connector(GoogleBusinessConnector, read_timeout=0.5)
    _, auth = await _connected(slow)
    content = PostContent("Grand opening this Saturday — free garlic knots")
    started = datetime.now(UTC)
    await set_faults(sandbox, P, error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    await expect(ErrorKind.AMBIGUOUS, slow.publish(auth, content, "ref-amb"))
    await set_faults(sandbox, P)
    found = await slow.fetch_post_status(auth, PublishAttempt("ref-amb", content, started))
    assert found is not None
    assert found.external_id.startswith(f"{auth.external_id}/localPosts/")
    assert found.permalink
    assert (await _counts(sandbox)) == {"ref-amb": 1}


async def test_post_status_is_none_when_nothing_went_out(
    gbp: GoogleBusinessConnector,
) -> None:
    _, auth = await _connected(gbp)
    started = datetime.now(UTC)
    await gbp.publish(auth, PostContent("Something else"), "ref-a")
    attempt = PublishAttempt("ref-b", PostContent("Never sent"), started)
    assert await gbp.fetch_post_status(auth, attempt) is None
    # An older post with the same text doesn't count as this attempt's.
    later = PublishAttempt("ref-c", PostContent("Something else"), started + timedelta(hours=1))
    assert await gbp.fetch_post_status(auth, later) is None


async def test_delete(gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient) -> None:
    _, auth = await _connected(gbp)
    content = PostContent("Short-lived")
    published = await gbp.publish(auth, content, "ref-del")
    await set_faults(sandbox, P, error_rates={"server_error": 1.0})
    await expect(ErrorKind.TRANSIENT, gbp.delete(auth, published.external_id))
    await set_faults(sandbox, P)
    await gbp.delete(auth, published.external_id)
    posts = (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"]
    assert [p["deleted"] for p in posts] == [True]
    attempt = PublishAttempt("ref-del", content, datetime.now(UTC), published.external_id)
    assert await gbp.fetch_post_status(auth, attempt) is None
    await gbp.delete(auth, published.external_id)  # already gone: fine
    await expect(ErrorKind.REJECTED, gbp.delete(auth, "accounts/1/locations/2/localPosts/3"))


# --- Reviews -------------------------------------------------------------------------------------


async def test_reviews_page_newest_updated_first(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient
) -> None:
    _, auth = await _connected(gbp)
    location_id = auth.external_id.rpartition("/")[2]
    first = await gbp.fetch_reviews(auth, None)
    assert len(first.reviews) == activity.REVIEWS_PER_ACCOUNT
    assert first.next_cursor is None
    for i in range(45):
        r = await sandbox.post(
            f"/_sandbox/reviews/{P}/{location_id}",
            json={"rating": 1 + i % 5, "text": f"Visit {i}", "author": f"Guest {i}"},
        )
        assert r.status_code == 201
    page1 = await gbp.fetch_reviews(auth, None)
    assert len(page1.reviews) == 50
    assert page1.next_cursor
    page2 = await gbp.fetch_reviews(auth, page1.next_cursor)
    assert len(page2.reviews) == 57 - 50
    assert page2.next_cursor is None
    everything = page1.reviews + page2.reviews
    assert len({r.external_id for r in everything}) == 57
    stamps = [r.updated_at for r in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert {r.rating for r in everything} <= {1, 2, 3, 4, 5}
    assert all(r.author and r.text for r in everything)
    newest = next(r for r in page1.reviews if r.text == "Visit 44")
    assert newest.rating == 5
    assert newest.author == "Guest 44"
    assert newest.reply_text is None


async def test_reply_to_a_review(gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient) -> None:
    _, auth = await _connected(gbp)
    review = (await gbp.fetch_reviews(auth, None)).reviews[-1]
    await gbp.reply_to_review(auth, review.external_id, "Thanks for coming by!")
    again = {r.external_id: r for r in (await gbp.fetch_reviews(auth, None)).reviews}
    assert again[review.external_id].reply_text == "Thanks for coming by!"
    assert again[review.external_id].reply_updated_at is not None
    err = await expect(
        ErrorKind.REJECTED, gbp.reply_to_review(auth, review.external_id, "é" * 2049)
    )
    assert "4096" in err.message
    await expect(ErrorKind.REJECTED, gbp.reply_to_review(auth, "no-such-review", "Thanks"))
    await set_faults(sandbox, P, error_rates={"server_error": 1.0})
    await expect(ErrorKind.TRANSIENT, gbp.reply_to_review(auth, review.external_id, "Again"))


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_reviews_faults(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    _, auth = await _connected(gbp)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    await expect(kind, gbp.fetch_reviews(auth, None))
    await expect(kind, gbp.reply_to_review(auth, "x-r1", "Thanks"))


# --- Metrics -------------------------------------------------------------------------------------


async def test_metrics_sum_impressions_and_clicks(gbp: GoogleBusinessConnector) -> None:
    _, auth = await _connected(gbp)
    today = datetime.now(UTC).date()
    since = today - timedelta(days=6)
    days = await gbp.fetch_metrics(auth, since, today)
    assert [d.day for d in days] == [since + timedelta(days=i) for i in range(7)]
    location_id = auth.external_id.rpartition("/")[2]
    for got in days:
        expected = activity.daily_metrics(PlatformState(), location_id, got.day)
        assert got.impressions == expected.impressions
        assert got.clicks == expected.clicks
        assert got.followers is None
        assert got.reach is None


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("server_error", ErrorKind.TRANSIENT), ("auth_revoked", ErrorKind.AUTH)],
)
async def test_metrics_faults(
    gbp: GoogleBusinessConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    _, auth = await _connected(gbp)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    today = datetime.now(UTC).date()
    await expect(kind, gbp.fetch_metrics(auth, today, today))


# --- Classification ------------------------------------------------------------------------------


def test_classify_google_error_bodies(gbp: GoogleBusinessConnector) -> None:
    def error(code: int, status: str, reason: str, message: str = "m") -> dict[str, Any]:
        errors = [{"reason": reason, "domain": "global", "message": message}]
        return {"error": {"code": code, "message": message, "status": status, "errors": errors}}

    quota = gbp.classify(_response(403, error(403, "PERMISSION_DENIED", "quotaExceeded")))
    assert quota.kind is ErrorKind.RATE_LIMITED
    assert quota.retry_after is not None
    assert abs(quota.retry_after - seconds_to_pacific_midnight()) < 5
    denied = gbp.classify(_response(403, error(403, "PERMISSION_DENIED", "forbidden")))
    assert denied.kind is ErrorKind.AUTH
    told = gbp.classify(
        _response(429, error(429, "RESOURCE_EXHAUSTED", "rateLimitExceeded"), {"Retry-After": "7"})
    )
    assert told.kind is ErrorKind.RATE_LIMITED
    assert told.retry_after == 7.0
    bad = gbp.classify(_response(400, error(400, "FAILED_PRECONDITION", "x", "Not verified")))
    assert bad.kind is ErrorKind.REJECTED
    assert "Not verified" in bad.message
    assert gbp.classify(_response(500, error(500, "INTERNAL", "x"))).kind is ErrorKind.TRANSIENT
    grant = gbp.classify(_response(400, {"error": "invalid_grant", "error_description": "Bad"}))
    assert grant.kind is ErrorKind.AUTH
