"""The X connector against the sandbox: every interface method, success and each error class
it can meet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.platforms.types import Media, PostContent, PublishAttempt, TokenSet
from shared.platforms.x import XConnector
from tests.platforms.conftest import REDIRECT_URI, auth_for, connect, consent, set_faults

Make = Callable[..., Any]


@pytest.fixture
def x(make_connector: Make) -> XConnector:
    connector: XConnector = make_connector(XConnector)
    return connector


def _image(sandbox: httpx.AsyncClient, name: str = "a.png", **query: str) -> Media:
    suffix = f"?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else ""
    return Media(f"{str(sandbox.base_url).rstrip('/')}/x/_sandbox/media/{name}{suffix}")


async def _counts(sandbox: httpx.AsyncClient) -> dict[str, int]:
    counts: dict[str, int] = (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"]
    return counts


async def test_connect_with_pkce_gives_the_users_own_account(x: XConnector) -> None:
    request = x.authorize_url("st-9", REDIRECT_URI)
    query = parse_qs(urlsplit(request.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert request.code_verifier
    assert request.code_verifier not in request.url
    assert set(query["scope"][0].split()) == {
        "tweet.read",
        "tweet.write",
        "users.read",
        "offline.access",
        "media.write",
    }
    grant = await connect(x)
    (choice,) = grant.choices
    assert choice.kind == "user"
    assert choice.username
    assert choice.username.startswith("sandbox_user_")
    assert choice.extra == {"username": choice.username}
    assert grant.tokens.refresh_token is not None
    assert grant.tokens.expires_at is not None
    assert (
        timedelta(minutes=110) < grant.tokens.expires_at - datetime.now(UTC) <= timedelta(hours=2)
    )
    token = grant.tokens.access_token.reveal()
    assert token not in repr(grant)
    assert grant.tokens.refresh_token.reveal() not in repr(grant)


async def test_pkce_verifier_is_checked(x: XConnector) -> None:
    code, verifier = await consent(x)
    assert verifier
    with pytest.raises(PlatformError) as err:
        await x.exchange_code(
            code, REDIRECT_URI, verifier[:-1] + ("A" if verifier[-1] != "A" else "B")
        )
    assert err.value.kind is ErrorKind.REJECTED
    assert "code verifier" in (err.value.detail or "")
    code, _ = await consent(x)
    with pytest.raises(PlatformError) as err:
        await x.exchange_code(code, REDIRECT_URI, None)
    assert err.value.kind is ErrorKind.REJECTED


async def test_user_can_refuse_consent(x: XConnector) -> None:
    request = x.authorize_url("st-deny", REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(f"{request.url}&sandbox_deny=1")
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["error"] == ["access_denied"]
    assert back["state"] == ["st-deny"]
    assert "code" not in back


async def test_refresh_rotates_and_never_loses_the_refresh_token(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    grant = await connect(x)
    auth = auth_for(grant)
    tokens = grant.tokens
    seen = {tokens.refresh_token.reveal() if tokens.refresh_token else ""}
    for _ in range(3):
        fresh = await x.refresh_token(tokens)
        assert fresh.refresh_token is not None
        assert fresh.refresh_token.reveal() not in seen  # rotated
        seen.add(fresh.refresh_token.reveal())
        tokens = fresh
    # the old refresh token was spent by the rotation: the account must reconnect
    with pytest.raises(PlatformError) as err:
        await x.refresh_token(grant.tokens)
    assert err.value.kind is ErrorKind.AUTH
    # an access token past its 2 hours is an auth error; refreshing brings the account back
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 7201})
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, PostContent(text="after expiry"), "ref-exp")
    assert err.value.kind is ErrorKind.AUTH
    assert "Reconnect" in err.value.message
    renewed = await x.refresh_token(tokens)
    assert renewed.refresh_token is not None
    live = auth_for(grant).__class__(auth.external_id, renewed.access_token, auth.extra)
    done = await x.publish(live, PostContent(text="after refresh"), "ref-ok")
    assert done.external_id
    with pytest.raises(PlatformError) as err:
        await x.refresh_token(TokenSet(access_token=renewed.access_token))
    assert err.value.kind is ErrorKind.AUTH


async def test_revoke_cuts_access(x: XConnector) -> None:
    auth = auth_for(await connect(x))
    assert await x.revoke(auth) is True
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, PostContent(text="after revoke"), "ref-r")
    assert err.value.kind is ErrorKind.AUTH


async def test_publish_text_then_find_and_delete(x: XConnector, sandbox: httpx.AsyncClient) -> None:
    auth = auth_for(await connect(x))
    started = datetime.now(UTC)
    content = PostContent(text="Fresh pizza in Leeds today 🍕")
    done = await x.publish(auth, content, "ref-1")
    assert done.permalink == f"https://x.com/{auth.extra['username']}/status/{done.external_id}"
    stored = (await sandbox.get("/_sandbox/posts/x")).json()["data"]
    assert [(p["id"], p["text"], p["client_ref"]) for p in stored] == [
        (done.external_id, "Fresh pizza in Leeds today 🍕", "ref-1")
    ]
    by_id = await x.fetch_post_status(
        auth, PublishAttempt("ref-1", content, started, external_id=done.external_id)
    )
    by_text = await x.fetch_post_status(auth, PublishAttempt("ref-1", content, started))
    assert by_id is not None
    assert by_text is not None
    assert by_id.external_id == by_text.external_id == done.external_id
    assert by_id.published_at is not None
    assert abs((by_id.published_at - started).total_seconds()) < 60
    other = PostContent(text="Never sent")
    assert await x.fetch_post_status(auth, PublishAttempt("ref-2", other, started)) is None
    await x.delete(auth, done.external_id)
    await x.delete(auth, done.external_id)  # already gone: nothing to do
    gone = PublishAttempt("ref-1", content, started, external_id=done.external_id)
    assert await x.fetch_post_status(auth, gone) is None
    assert await x.fetch_post_status(auth, PublishAttempt("ref-1", content, started)) is None


async def test_link_goes_into_the_text(x: XConnector, sandbox: httpx.AsyncClient) -> None:
    auth = auth_for(await connect(x))
    content = PostContent(text="Our menu", link="https://example.com/menu")
    started = datetime.now(UTC)
    done = await x.publish(auth, content, "ref-link")
    stored = (await sandbox.get("/_sandbox/posts/x")).json()["data"]
    assert stored[0]["text"] == "Our menu\nhttps://example.com/menu"
    found = await x.fetch_post_status(auth, PublishAttempt("ref-link", content, started))
    assert found is not None
    assert found.external_id == done.external_id


async def test_images_are_downloaded_uploaded_and_attached(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(x))
    described = Media(_image(sandbox, "b.png").url, alt_text="Margherita, fresh from the oven")
    content = PostContent(text="Two pictures", media=(_image(sandbox), described))
    done = await x.publish(auth, content, "ref-img")
    (stored,) = (await sandbox.get("/_sandbox/posts/x")).json()["data"]
    assert stored["id"] == done.external_id
    assert len(stored["media"]) == 2
    tweet = await sandbox.get(
        f"/x/2/tweets/{done.external_id}",
        params={"tweet.fields": "attachments", "expansions": "attachments.media_keys"},
        headers={"Authorization": f"Bearer {auth.access_token.reveal()}"},
    )
    assert len(tweet.json()["data"]["attachments"]["media_keys"]) == 2
    shown = [m.get("alt_text") for m in tweet.json()["includes"]["media"]]
    assert shown == [None, "Margherita, fresh from the oven"]
    only_image = await x.publish(auth, PostContent(text="", media=(_image(sandbox),)), "ref-i2")
    assert only_image.external_id


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/a.png", "link-local"),
        ("http://10.1.2.3/a.png", "private address"),
        ("file:///etc/passwd", "scheme"),
        ("http://example.com:99999999/a.png", "not a valid address"),
    ],
)
async def test_media_url_into_our_network_is_rejected(
    x: XConnector, sandbox: httpx.AsyncClient, url: str, reason: str
) -> None:
    auth = auth_for(await connect(x))
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, PostContent(text="sneaky", media=(Media(url),)), "ref-ssrf")
    assert err.value.kind is ErrorKind.REJECTED
    assert reason in err.value.message
    assert await _counts(sandbox) == {}


async def test_media_problems_are_rejected_before_posting(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(x))
    cases = [
        (PostContent(text="big", media=(_image(sandbox, bytes="6000000"),)), "5 MB"),
        (PostContent(text="five", media=tuple(_image(sandbox) for _ in range(5))), "at most 4"),
        (PostContent(text="film", media=(Media("https://cdn.example/v.mp4", "video"),)), "image"),
    ]
    for content, words in cases:
        with pytest.raises(PlatformError) as err:
            await x.publish(auth, content, "ref-m")
        assert err.value.kind is ErrorKind.REJECTED
        assert words in err.value.message
    base = str(sandbox.base_url).rstrip("/")
    missing = PostContent(text="gone", media=(Media(f"{base}/nowhere.png"),))
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, missing, "ref-m")
    assert err.value.kind is ErrorKind.REJECTED
    assert "404" in err.value.message
    assert await _counts(sandbox) == {}


async def test_too_long_and_duplicates_are_rejected(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(x))
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, PostContent(text="字" * 141), "ref-long")
    assert err.value.kind is ErrorKind.REJECTED
    assert "280" in err.value.message
    await x.publish(auth, PostContent(text="字" * 140), "ref-fits")
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, PostContent(text="字" * 140), "ref-again")
    assert err.value.kind is ErrorKind.REJECTED
    assert err.value.code == "duplicate"
    assert "same text" in err.value.message
    assert "duplicate content" in (err.value.detail or "")
    assert await _counts(sandbox) == {"ref-fits": 1}


async def test_platform_refusal_carries_its_detail(x: XConnector) -> None:
    auth = auth_for(await connect(x))
    with pytest.raises(PlatformError) as err:  # the connector doesn't pre-check this one
        await x.request(
            "POST",
            x.api("/2/tweets"),
            token=auth.access_token,
            json={"text": "hi", "media": {"media_ids": ["42"]}},
        )
    assert err.value.kind is ErrorKind.REJECTED
    assert "Your media IDs are invalid." in err.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_faults_are_classified(
    x: XConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    auth = auth_for(await connect(x))
    await set_faults(sandbox, "x", error_rates={fault: 1.0})
    today = datetime.now(UTC).date()
    content = PostContent(text="hello")
    calls = [
        x.publish(auth, content, "ref-f"),
        x.publish(auth, PostContent(text="pic", media=(_image(sandbox),)), "ref-f2"),
        x.fetch_post_status(auth, PublishAttempt("ref-f", content, datetime.now(UTC))),
        x.fetch_post_status(auth, PublishAttempt("ref-f", content, datetime.now(UTC), "1")),
        x.fetch_metrics(auth, today, today),
        x.delete(auth, "1800000000000000001"),
    ]
    for call in calls:
        with pytest.raises(PlatformError) as err:
            await call
        assert err.value.kind is kind
        if kind is ErrorKind.RATE_LIMITED:
            assert err.value.retry_after is not None
            assert 0 < err.value.retry_after <= 901  # reset: whole epoch seconds
    assert await _counts(sandbox) == {}


async def test_spent_post_window_is_rate_limited_until_reset(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(x))
    headers = {"Authorization": f"Bearer {auth.access_token.reveal()}"}
    for i in range(100):  # POST /2/tweets: 100 per user per 15 minutes
        r = await sandbox.post("/x/2/tweets", json={"text": f"post {i}"}, headers=headers)
        assert r.status_code == 201
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, PostContent(text="one too many"), "ref-101")
    assert err.value.kind is ErrorKind.RATE_LIMITED
    assert err.value.retry_after is not None
    assert 800 < err.value.retry_after <= 901
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 900})
    assert (await x.publish(auth, PostContent(text="one too many"), "ref-101")).external_id


async def test_lost_answer_is_ambiguous_and_reconciles_to_one_post(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    x: XConnector = make_connector(XConnector, read_timeout=0.5)
    auth = auth_for(await connect(x))
    await set_faults(sandbox, "x", error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    content = PostContent(text="Did this go out?")
    started = datetime.now(UTC)
    with pytest.raises(PlatformError) as err:
        await x.publish(auth, content, "ref-amb")
    assert err.value.kind is ErrorKind.AMBIGUOUS
    assert not err.value.retryable
    await set_faults(sandbox, "x")
    found = await x.fetch_post_status(auth, PublishAttempt("ref-amb", content, started))
    assert found is not None
    stored = (await sandbox.get("/_sandbox/posts/x")).json()["data"]
    assert [p["id"] for p in stored] == [found.external_id]
    assert await _counts(sandbox) == {"ref-amb": 1}


async def test_metrics_per_day_from_the_posts_and_followers_today(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(x))
    ids = [
        (await x.publish(auth, PostContent(text=f"day post {i}"), f"r{i}")).external_id
        for i in range(3)
    ]
    today = datetime.now(UTC).date()
    days = await x.fetch_metrics(auth, today - timedelta(days=2), today)
    assert [d.day for d in days] == [today - timedelta(days=2 - i) for i in range(3)]
    headers = {"Authorization": f"Bearer {auth.access_token.reveal()}"}
    truth = [
        (
            await sandbox.get(
                f"/x/2/tweets/{i}", params={"tweet.fields": "public_metrics"}, headers=headers
            )
        ).json()["data"]["public_metrics"]
        for i in ids
    ]
    me = (
        await sandbox.get(
            "/x/2/users/me", params={"user.fields": "public_metrics"}, headers=headers
        )
    ).json()["data"]
    last = days[-1]
    assert last.posts_published == 3
    assert last.impressions == sum(t["impression_count"] for t in truth)
    assert last.engagements == sum(
        t["like_count"] + t["retweet_count"] + t["reply_count"] + t["quote_count"] for t in truth
    )
    assert last.followers == me["public_metrics"]["followers_count"]
    assert last.reach is None
    assert last.clicks is None
    for earlier in days[:-1]:
        assert (earlier.posts_published, earlier.impressions, earlier.followers) == (0, 0, None)


async def test_no_reviews_on_x(x: XConnector) -> None:
    auth = auth_for(await connect(x))
    with pytest.raises(NotSupported):
        await x.fetch_reviews(auth, None)
    with pytest.raises(NotSupported):
        await x.reply_to_review(auth, "1", "thanks")


async def test_post_metrics_are_the_posts_public_metrics_in_one_lookup(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(x))
    ids = [
        (await x.publish(auth, PostContent(text=f"numbers {i}"), f"pm{i}")).external_id
        for i in range(3)
    ]
    headers = {"Authorization": f"Bearer {auth.access_token.reveal()}"}
    truth = {
        i: (
            await sandbox.get(
                f"/x/2/tweets/{i}", params={"tweet.fields": "public_metrics"}, headers=headers
            )
        ).json()["data"]["public_metrics"]
        for i in ids
    }
    found = await x.fetch_post_metrics(auth, ids)
    assert set(found) == set(ids)
    for i, t in truth.items():
        got = found[i]
        assert got.impressions == t["impression_count"]
        assert got.likes == t["like_count"]
        assert got.comments == t["reply_count"]
        assert got.shares == t["retweet_count"] + t["quote_count"]
        assert got.engagements == (
            t["like_count"] + t["retweet_count"] + t["reply_count"] + t["quote_count"]
        )
        assert (got.reach, got.clicks, got.views) == (None, None, None)
    assert await x.fetch_post_metrics(auth, ids) == found  # stable


async def test_post_metrics_leave_out_unknown_and_deleted_posts(x: XConnector) -> None:
    auth = auth_for(await connect(x))
    kept = (await x.publish(auth, PostContent(text="kept"), "pk")).external_id
    gone = (await x.publish(auth, PostContent(text="gone"), "pg")).external_id
    await x.delete(auth, gone)
    found = await x.fetch_post_metrics(auth, [kept, gone, "1899999999999999999"])
    assert set(found) == {kept}
    assert await x.fetch_post_metrics(auth, ["1899999999999999999"]) == {}


async def test_post_metrics_rate_limit_says_when_to_come_back(
    x: XConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(x))
    post = (await x.publish(auth, PostContent(text="limited"), "pl")).external_id
    await set_faults(sandbox, "x", error_rates={"rate_limited": 1.0})
    with pytest.raises(PlatformError) as err:
        await x.fetch_post_metrics(auth, [post])
    assert err.value.kind is ErrorKind.RATE_LIMITED
    assert err.value.retry_after is not None
    assert 0 < err.value.retry_after <= 901
