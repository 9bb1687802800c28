"""TikTok connector against the running sandbox: Login Kit, Direct Post, reconciling, metrics,
and every error kind each method can meet."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from services.sandbox import activity
from services.sandbox import tiktok as tiktok_sandbox
from services.sandbox.state import PlatformState
from shared.crypto import Sealed
from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.platforms.tiktok import TikTokConnector
from shared.platforms.types import AccountAuth, Media, PostContent, PublishAttempt
from tests.platforms.conftest import (
    REDIRECT_URI,
    auth_for,
    connect,
    consent,
    expect,
    set_faults,
)

P = "/tiktok"
VIDEO = Media("https://cdn.chorus.test/clips/pizza.mp4", "video")
PHOTOS = tuple(Media(f"https://cdn.chorus.test/img/{i}.jpg", "image") for i in range(3))

MakeConnector = Callable[..., TikTokConnector]


@pytest.fixture
def tiktok(make_connector: Callable[..., Any]) -> TikTokConnector:
    connector: TikTokConnector = make_connector(TikTokConnector)
    return connector


async def _connected(tiktok: TikTokConnector) -> AccountAuth:
    return auth_for(await connect(tiktok))


def _headers(auth: AccountAuth, ref: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {auth.access_token.reveal()}"}
    if ref:
        headers["X-Chorus-Client-Ref"] = ref
    return headers


async def _raw_init(
    sandbox: httpx.AsyncClient, auth: AccountAuth, title: str, ref: str
) -> httpx.Response:
    """A direct post made outside Chorus's connector (another app, or the creator's earlier
    posts)."""
    return await sandbox.post(
        f"{P}/v2/post/publish/video/init/",
        headers=_headers(auth, ref),
        json={
            "post_info": {"title": title, "privacy_level": "PUBLIC_TO_EVERYONE"},
            "source_info": {"source": "PULL_FROM_URL", "video_url": VIDEO.url},
        },
    )


def _with(url: str, **extra: str) -> str:
    """``url`` with ``extra`` added to its query (httpx's ``params=`` would replace it)."""
    return f"{url}&{urlencode(extra)}"


def _rolls(seed: int, n: int, rate: float = 0.5) -> list[bool]:
    """Which of the first ``n`` calls the sandbox's fault RNG (``random.Random(seed)``) hits."""
    rng = random.Random(seed)
    return [rng.random() < rate for _ in range(n)]


async def _counts(sandbox: httpx.AsyncClient) -> dict[str, int]:
    r = await sandbox.get("/_sandbox/publish-counts/tiktok")
    counts: dict[str, int] = r.json()["counts"]
    return counts


# --- OAuth -----------------------------------------------------------------------------------


async def test_authorize_url_is_the_web_login_kit_flow(tiktok: TikTokConnector) -> None:
    request = tiktok.authorize_url("st-9", REDIRECT_URI)
    parts = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/tiktok/v2/auth/authorize/"
    assert query["client_key"] == "chorus-test-tiktok"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["state"] == "st-9"
    assert set(query["scope"].split(",")) >= {"user.info.basic", "video.publish", "video.list"}
    # The web flow has no PKCE at TikTok (desktop and mobile apps only).
    assert "code_challenge" not in query
    assert request.code_verifier is None


async def test_connect_gives_the_creator_and_tokens(tiktok: TikTokConnector) -> None:
    grant = await connect(tiktok)
    assert len(grant.choices) == 1
    creator = grant.choices[0]
    assert creator.external_id.startswith("-000")
    assert creator.name.startswith("Sandbox Creator")
    assert creator.username
    assert creator.username.startswith("sandbox.creator.")
    assert creator.extra["union_id"]
    tokens = grant.tokens
    assert tokens.refresh_token is not None
    now = datetime.now(UTC)
    assert tokens.expires_at is not None
    assert tokens.refresh_expires_at is not None
    assert abs((tokens.expires_at - now) - timedelta(hours=24)) < timedelta(minutes=1)
    assert abs((tokens.refresh_expires_at - now) - timedelta(days=365)) < timedelta(minutes=1)
    assert "video.publish" in tokens.scopes
    assert tokens.access_token.reveal() not in repr(grant)


async def test_consent_refused_comes_back_with_access_denied(tiktok: TikTokConnector) -> None:
    request = tiktok.authorize_url("st-2", REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(_with(request.url, sandbox_deny="1"))
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["error"] == ["access_denied"]
    assert back["state"] == ["st-2"]
    assert "code" not in back


async def test_code_works_once(tiktok: TikTokConnector) -> None:
    code, verifier = await consent(tiktok)
    await tiktok.exchange_code(code, REDIRECT_URI, verifier)
    err = await expect(ErrorKind.AUTH, tiktok.exchange_code(code, REDIRECT_URI, verifier))
    assert err.code == "invalid_grant"


async def test_pkce_verifier_is_checked_when_a_challenge_was_sent(
    tiktok: TikTokConnector,
) -> None:
    """Desktop/mobile Login Kit: hex SHA-256 challenge at authorize, verifier at exchange."""
    verifier = "v" * 64

    async def code_with_challenge() -> str:
        url = tiktok.authorize_url("st-p", REDIRECT_URI).url
        params = {
            "code_challenge": hashlib.sha256(verifier.encode()).hexdigest(),
            "code_challenge_method": "S256",
        }
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(_with(url, **params))
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    wrong = await code_with_challenge()
    err = await expect(ErrorKind.REJECTED, tiktok.exchange_code(wrong, REDIRECT_URI, "x" * 64))
    assert err.code == "invalid_request"
    assert "verifier" in (err.detail or "")
    grant = await tiktok.exchange_code(await code_with_challenge(), REDIRECT_URI, verifier)
    assert grant.choices


async def test_exchange_code_faults(tiktok: TikTokConnector, sandbox: httpx.AsyncClient) -> None:
    code, _ = await consent(tiktok)
    await set_faults(sandbox, "tiktok", error_rates={"server_error": 1.0})
    await expect(ErrorKind.TRANSIENT, tiktok.exchange_code(code, REDIRECT_URI, None))
    await set_faults(sandbox, "tiktok", error_rates={"rate_limited": 1.0})
    await expect(ErrorKind.RATE_LIMITED, tiktok.exchange_code(code, REDIRECT_URI, None))


async def test_refresh_rotates_and_never_drops_the_refresh_token(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    grant = await connect(tiktok)
    first = grant.tokens
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 86_401})
    auth = auth_for(grant)
    err = await expect(ErrorKind.AUTH, tiktok.fetch_post_status(auth, _attempt("x")))
    assert err.code == "access_token_invalid"
    second = await tiktok.refresh_token(first)
    assert second.refresh_token is not None
    assert second.access_token.reveal() != first.access_token.reveal()
    assert first.refresh_token is not None
    assert second.refresh_token.reveal() != first.refresh_token.reveal()
    # Refreshing does not extend the refresh token's own life.
    assert second.refresh_expires_at is not None
    assert first.refresh_expires_at is not None
    assert second.refresh_expires_at < first.refresh_expires_at
    # The new access token works; the rotated-out refresh token does not.
    fresh = AccountAuth(auth.external_id, second.access_token)
    assert await tiktok.fetch_post_status(fresh, _attempt("never sent")) is None
    err = await expect(ErrorKind.AUTH, tiktok.refresh_token(first))
    assert err.code == "invalid_grant"
    third = await tiktok.refresh_token(second)
    assert third.refresh_token is not None


async def test_refresh_errors(tiktok: TikTokConnector, sandbox: httpx.AsyncClient) -> None:
    tokens = (await connect(tiktok)).tokens
    await set_faults(sandbox, "tiktok", error_rates={"server_error": 1.0})
    await expect(ErrorKind.TRANSIENT, tiktok.refresh_token(tokens))
    await set_faults(sandbox, "tiktok", error_rates={"rate_limited": 1.0})
    await expect(ErrorKind.RATE_LIMITED, tiktok.refresh_token(tokens))
    await set_faults(sandbox, "tiktok", error_rates={"auth_revoked": 1.0})
    err = await expect(ErrorKind.AUTH, tiktok.refresh_token(tokens))
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.reveal() not in f"{err} {err!r} {err.detail}"


async def test_revoke_ends_access(tiktok: TikTokConnector) -> None:
    grant = await connect(tiktok)
    auth = auth_for(grant)
    assert await tiktok.revoke(auth) is True
    err = await expect(ErrorKind.AUTH, tiktok.publish(auth, PostContent("hi", media=(VIDEO,)), "r"))
    assert err.code == "access_token_invalid"
    await expect(ErrorKind.AUTH, tiktok.refresh_token(grant.tokens))


# --- Publishing --------------------------------------------------------------------------------


async def test_publish_video(tiktok: TikTokConnector, sandbox: httpx.AsyncClient) -> None:
    auth = await _connected(tiktok)
    published = await tiktok.publish(
        auth, PostContent("Fresh pizza today 🍕 #pizza", media=(VIDEO,)), "ref-v1"
    )
    assert published.external_id.isdigit()
    assert published.permalink
    assert published.permalink.endswith(f"/video/{published.external_id}")
    assert published.published_at is not None
    assert abs(published.published_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert await _counts(sandbox) == {"ref-v1": 1}
    posts = (await sandbox.get("/_sandbox/posts/tiktok")).json()["data"]
    assert [p["text"] for p in posts] == ["Fresh pizza today 🍕 #pizza"]


async def test_publish_photos(tiktok: TikTokConnector, sandbox: httpx.AsyncClient) -> None:
    auth = await _connected(tiktok)
    content = PostContent("Our new menu", title="New menu", media=PHOTOS)
    published = await tiktok.publish(auth, content, "ref-p1")
    assert published.external_id.isdigit()
    assert await _counts(sandbox) == {"ref-p1": 1}
    found = await tiktok.fetch_post_status(auth, _attempt("Our new menu"))
    assert found is not None
    assert found.external_id == published.external_id


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (PostContent("no media"), "media_required"),
        (PostContent("both", media=(VIDEO, PHOTOS[0])), "mixed_media"),
        (PostContent("two videos", media=(VIDEO, VIDEO)), "too_many_videos"),
    ],
)
async def test_publish_needs_one_video_or_photos(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient, content: PostContent, code: str
) -> None:
    auth = await _connected(tiktok)
    err = await expect(ErrorKind.REJECTED, tiktok.publish(auth, content, "ref-m"))
    assert err.code == code
    assert "TikTok refused this" in err.message
    assert await _counts(sandbox) == {}


async def test_publish_limits_enforced_by_tiktok(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = await _connected(tiktok)
    # 2,200 UTF-16 runes is the most a caption may have: an emoji outside the BMP counts 2.
    ok = await tiktok.publish(auth, PostContent("😀" * 1_100, media=(VIDEO,)), "ref-2200")
    assert ok.external_id
    long = PostContent("😀" * 1_100 + "a", media=(VIDEO,))
    err = await expect(ErrorKind.REJECTED, tiktok.publish(auth, long, "ref-long"))
    assert err.code == "invalid_params"
    assert "2200" in err.message
    photos = tuple(Media(f"https://cdn.chorus.test/{i}.jpg", "image") for i in range(36))
    too_many = PostContent("x", media=photos)
    err = await expect(ErrorKind.REJECTED, tiktok.publish(auth, too_many, "r"))
    assert err.code == "invalid_params"
    assert "35" in err.message
    unverified = Media("https://unverified.example.com/clip.mp4", "video")
    err = await expect(
        ErrorKind.REJECTED, tiktok.publish(auth, PostContent("x", media=(unverified,)), "r")
    )
    assert err.code == "url_ownership_unverified"
    assert "verified" in err.message
    assert await _counts(sandbox) == {"ref-2200": 1}


@pytest.mark.parametrize(
    ("fault", "kind", "code"),
    [
        ("server_error", ErrorKind.TRANSIENT, "internal_error"),
        ("rate_limited", ErrorKind.RATE_LIMITED, "rate_limit_exceeded"),
        ("auth_revoked", ErrorKind.AUTH, "access_token_invalid"),
    ],
)
async def test_publish_faults(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind, code: str
) -> None:
    auth = await _connected(tiktok)
    await set_faults(sandbox, "tiktok", error_rates={fault: 1.0})
    err = await expect(kind, tiktok.publish(auth, PostContent("hi", media=(VIDEO,)), "ref-f"))
    assert err.code == code
    if kind is ErrorKind.RATE_LIMITED:
        assert err.retry_after == 60
    assert auth.access_token.reveal() not in f"{err} {err!r} {err.detail}"
    assert await _counts(sandbox) == {}


async def test_publish_with_expired_token_is_auth(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = await _connected(tiktok)
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 86_400})
    err = await expect(ErrorKind.AUTH, tiktok.publish(auth, PostContent("hi", media=(VIDEO,)), "r"))
    assert err.code == "access_token_invalid"


async def test_publish_without_the_publish_scope_is_auth(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    url = tiktok.authorize_url("st-s", REDIRECT_URI).url
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    query["scope"] = "user.info.basic"  # the creator unticked everything else
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url.split("?")[0], params=query)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    r = await sandbox.post(
        f"{P}/v2/oauth/token/",
        data={
            "client_key": "chorus-test-tiktok",
            "client_secret": "test-secret",
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert r.json()["scope"] == "user.info.basic"
    auth = AccountAuth(r.json()["open_id"], Sealed(r.json()["access_token"]))
    err = await expect(ErrorKind.AUTH, tiktok.publish(auth, PostContent("hi", media=(VIDEO,)), "r"))
    assert err.code == "scope_not_authorized"


async def test_publish_init_window_of_six_a_minute(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = await _connected(tiktok)
    for i in range(6):
        assert (await _raw_init(sandbox, auth, f"post {i}", f"raw-{i}")).status_code == 200
    err = await expect(
        ErrorKind.RATE_LIMITED, tiktok.publish(auth, PostContent("7th", media=(VIDEO,)), "ref-7")
    )
    assert err.code == "rate_limit_exceeded"
    assert err.status == 429
    assert err.retry_after == 60
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 61})
    assert (await tiktok.publish(auth, PostContent("7th", media=(VIDEO,)), "ref-7")).external_id
    assert (await _counts(sandbox))["ref-7"] == 1


async def test_daily_post_cap(tiktok: TikTokConnector, sandbox: httpx.AsyncClient) -> None:
    auth = await _connected(tiktok)
    assert tiktok.limits.publish_per_day == tiktok_sandbox.DAILY_POST_CAP == 15
    for i in range(15):
        if i and i % 6 == 0:  # stay inside the 6-a-minute init window
            await sandbox.post("/_sandbox/clock/advance", json={"seconds": 61})
        assert (await _raw_init(sandbox, auth, f"post {i}", f"raw-{i}")).status_code == 200
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 61})
    err = await expect(
        ErrorKind.RATE_LIMITED, tiktok.publish(auth, PostContent("16th", media=(VIDEO,)), "ref-16")
    )
    assert err.code == "spam_risk_too_many_posts"
    # Back when the oldest of the day's posts leaves the 24 h window.
    assert err.retry_after is not None
    assert 86_000 < err.retry_after <= 86_400
    assert "ref-16" not in await _counts(sandbox)


async def test_publish_timeout_is_ambiguous_then_reconciled_once(
    make_connector: Callable[..., Any], sandbox: httpx.AsyncClient
) -> None:
    slow: TikTokConnector = make_connector(TikTokConnector, read_timeout=0.5)
    auth = await _connected(slow)
    started = datetime.now(UTC)
    content = PostContent("Ambiguous special ✨", media=(VIDEO,))
    # creator_info answers normally; the init is done, then its answer held past the timeout:
    # a seed whose first roll is clean and whose second is accept_then_timeout.
    seed = next(s for s in range(1000) if _rolls(s, 2) == [False, True])
    await set_faults(
        sandbox, "tiktok", error_rates={"accept_then_timeout": 0.5}, hold_s=5, seed=seed
    )
    err = await expect(ErrorKind.AMBIGUOUS, slow.publish(auth, content, "ref-amb"))
    assert auth.access_token.reveal() not in f"{err} {err!r} {err.detail}"
    await set_faults(sandbox, "tiktok")
    attempt = PublishAttempt("ref-amb", content, started)
    found = await slow.fetch_post_status(auth, attempt)
    assert found is not None
    assert found.external_id.isdigit()
    assert found.permalink
    assert found.permalink.endswith(found.external_id)
    assert (await _counts(sandbox))["ref-amb"] == 1


async def test_publish_timeout_on_creator_info_is_transient(
    make_connector: Callable[..., Any], sandbox: httpx.AsyncClient
) -> None:
    """A read that timed out changed nothing: retrying is safe, and nothing was posted."""
    slow: TikTokConnector = make_connector(TikTokConnector, read_timeout=0.5)
    auth = await _connected(slow)
    await set_faults(sandbox, "tiktok", error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    # The first call (creator_info) is held; init is never sent.
    with pytest.raises(PlatformError) as caught:
        await slow.publish(auth, PostContent("x", media=(VIDEO,)), "ref-ci")
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert await _counts(sandbox) == {}


# --- Reconciling ------------------------------------------------------------------------------


def _attempt(text: str, external_id: str | None = None) -> PublishAttempt:
    started = datetime.now(UTC) - timedelta(minutes=5)
    return PublishAttempt("ref", PostContent(text, media=(VIDEO,)), started, external_id)


async def test_fetch_post_status_by_publish_id(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = await _connected(tiktok)
    monkeypatch.setattr(tiktok_sandbox, "PROCESSING_DELAY_S", 30.0)
    r = await _raw_init(sandbox, auth, "Pending post", "ref-pid")
    publish_id = r.json()["data"]["publish_id"]
    assert publish_id.startswith("v_pub_url~v2.")
    # Still processing: accepted, known only by its publish_id.
    pending = await tiktok.fetch_post_status(auth, _attempt("Pending post", publish_id))
    assert pending is not None
    assert pending.external_id == publish_id
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 31})
    done = await tiktok.fetch_post_status(auth, _attempt("Pending post", publish_id))
    assert done is not None
    assert done.external_id.isdigit()
    assert done.permalink
    assert done.permalink.endswith(f"/video/{done.external_id}")
    # A post id is checked with video/query.
    again = await tiktok.fetch_post_status(auth, _attempt("Pending post", done.external_id))
    assert again == done


async def test_fetch_post_status_when_nothing_went_out(tiktok: TikTokConnector) -> None:
    auth = await _connected(tiktok)
    await tiktok.publish(auth, PostContent("Something else", media=(VIDEO,)), "ref-x")
    assert await tiktok.fetch_post_status(auth, _attempt("Never sent")) is None
    assert await tiktok.fetch_post_status(auth, _attempt("x", "v_pub_url~v2.1")) is None
    assert await tiktok.fetch_post_status(auth, _attempt("x", "7300000000000000001")) is None
    # Posts from before the attempt started do not count.
    late = PublishAttempt(
        "r", PostContent("Something else"), datetime.now(UTC) + timedelta(minutes=5)
    )
    assert await tiktok.fetch_post_status(auth, late) is None


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_fetch_post_status_faults(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    auth = await _connected(tiktok)
    await set_faults(sandbox, "tiktok", error_rates={fault: 1.0})
    await expect(kind, tiktok.fetch_post_status(auth, _attempt("x")))
    await expect(kind, tiktok.fetch_post_status(auth, _attempt("x", "v_pub_url~v2.1")))


async def test_fetch_post_status_with_expired_token_is_auth(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = await _connected(tiktok)
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 86_400})
    await expect(ErrorKind.AUTH, tiktok.fetch_post_status(auth, _attempt("x")))


async def test_delete_is_not_supported(tiktok: TikTokConnector) -> None:
    auth = await _connected(tiktok)
    assert tiktok.limits.supports_delete is False
    with pytest.raises(NotSupported):
        await tiktok.delete(auth, "7300000000000000001")
    with pytest.raises(NotSupported):
        await tiktok.fetch_reviews(auth, None)


# --- Metrics -----------------------------------------------------------------------------------


async def test_metrics_per_day(tiktok: TikTokConnector, sandbox: httpx.AsyncClient) -> None:
    auth = await _connected(tiktok)
    for i in range(2):
        await tiktok.publish(auth, PostContent(f"Video {i}", media=(VIDEO,)), f"ref-{i}")
    today = datetime.now(UTC).date()
    days = await tiktok.fetch_metrics(auth, today - timedelta(days=2), today)
    assert [d.day for d in days] == [today - timedelta(days=2), today - timedelta(days=1), today]
    expected = activity.daily_metrics(PlatformState(), auth.external_id, today)
    last = days[-1]
    assert last.followers == expected.followers
    assert last.impressions == expected.impressions
    assert last.engagements == expected.engagements
    assert last.posts_published == 2
    assert last.reach is None
    assert last.clicks is None
    for earlier in days[:-1]:
        assert earlier.followers is None
        assert (earlier.impressions, earlier.engagements, earlier.posts_published) == (0, 0, 0)


async def test_metrics_errors(tiktok: TikTokConnector, sandbox: httpx.AsyncClient) -> None:
    auth = await _connected(tiktok)
    today = datetime.now(UTC).date()
    await set_faults(sandbox, "tiktok", error_rates={"server_error": 1.0})
    await expect(ErrorKind.TRANSIENT, tiktok.fetch_metrics(auth, today, today))
    await set_faults(sandbox, "tiktok", error_rates={"rate_limited": 1.0})
    err = await expect(ErrorKind.RATE_LIMITED, tiktok.fetch_metrics(auth, today, today))
    assert err.retry_after == 60
    await set_faults(sandbox, "tiktok")
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 86_400})
    await expect(ErrorKind.AUTH, tiktok.fetch_metrics(auth, today, today))


async def test_post_metrics_are_the_videos_counts_from_one_query(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = await _connected(tiktok)
    ids = [
        (await tiktok.publish(auth, PostContent(f"Clip {i}", media=(VIDEO,)), f"pm{i}")).external_id
        for i in range(2)
    ]
    raw = await sandbox.post(
        f"{P}/v2/video/query/?fields=id,view_count,like_count,comment_count,share_count",
        headers=_headers(auth),
        json={"filters": {"video_ids": ids}},
    )
    served = {v["id"]: v for v in raw.json()["data"]["videos"]}
    assert set(served) == set(ids)
    found = await tiktok.fetch_post_metrics(auth, ids)
    assert set(found) == set(ids)
    for video_id, video in served.items():
        got = found[video_id]
        assert got.views == video["view_count"] > 0
        assert (got.likes, got.comments, got.shares) == (
            video["like_count"],
            video["comment_count"],
            video["share_count"],
        )
        assert (
            got.engagements == video["like_count"] + video["comment_count"] + video["share_count"]
        )
        assert (got.impressions, got.reach, got.clicks) == (None, None, None)


async def test_post_metrics_leave_out_unknown_videos(tiktok: TikTokConnector) -> None:
    auth = await _connected(tiktok)
    kept = (await tiktok.publish(auth, PostContent("Kept", media=(VIDEO,)), "pmk")).external_id
    found = await tiktok.fetch_post_metrics(auth, [kept, "7999999999999999999", "v_pub_x~1"])
    assert set(found) == {kept}


async def test_post_metrics_with_a_revoked_token_are_auth(
    tiktok: TikTokConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = await _connected(tiktok)
    kept = (await tiktok.publish(auth, PostContent("Auth", media=(VIDEO,)), "pma")).external_id
    await set_faults(sandbox, "tiktok", error_rates={"auth_revoked": 1.0})
    await expect(ErrorKind.AUTH, tiktok.fetch_post_metrics(auth, [kept]))
