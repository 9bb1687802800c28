"""Instagram connector against the sandbox over HTTP: OAuth (short-lived then long-lived
token, refresh), two-step publishing, the 24 h publishing cap, reconciliation, insights, and
every error kind each method can meet."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.crypto import Sealed
from shared.platforms.errors import ErrorKind, NotSupported
from shared.platforms.instagram import InstagramConnector
from shared.platforms.types import AccountAuth, Media, PostContent, PublishAttempt, TokenSet
from tests.platforms.conftest import (
    REDIRECT_URI,
    auth_for,
    connect,
    consent,
    expect,
    set_faults,
)

P = "instagram"
G = f"/{P}/v21.0"
DAY = 86_400
IMAGE = Media("https://cdn.example.com/pizza.jpg")
VIDEO = Media("https://cdn.example.com/oven.mp4", kind="video")

Make = Callable[..., Any]


def post(text: str, *media: Media) -> PostContent:
    return PostContent(text=text, media=media or (IMAGE,))


async def connected(make: Make, **kw: Any) -> tuple[InstagramConnector, AccountAuth, TokenSet]:
    ig: InstagramConnector = make(InstagramConnector, **kw)
    grant = await connect(ig)
    return ig, auth_for(grant), grant.tokens


async def advance(sandbox: httpx.AsyncClient, seconds: float) -> None:
    r = await sandbox.post("/_sandbox/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200


def seed_for(rate: float, clean_calls: int) -> int:
    """A fault seed whose first ``clean_calls`` rolls pass and the next one faults."""
    for seed in range(10_000):
        rng = random.Random(seed)
        draws = [rng.random() for _ in range(clean_calls + 1)]
        if all(d >= rate for d in draws[:-1]) and draws[-1] < rate:
            return seed
    raise AssertionError("no seed found")


# --- OAuth ------------------------------------------------------------------------------------


async def test_authorize_url_asks_for_the_publishing_scopes(make_connector: Make) -> None:
    ig = make_connector(InstagramConnector)
    request = ig.authorize_url("st-9", REDIRECT_URI)
    query = parse_qs(urlsplit(request.url).query)
    assert urlsplit(request.url).path.endswith("/oauth/authorize")
    assert query["response_type"] == ["code"]
    assert "instagram_business_content_publish" in query["scope"][0].split(",")
    assert request.code_verifier is None


async def test_consent_denied_redirects_with_instagrams_error(make_connector: Make) -> None:
    ig = make_connector(InstagramConnector)
    async with httpx.AsyncClient() as browser:
        r = await browser.get(ig.authorize_url("st-1", REDIRECT_URI).url + "&sandbox_deny=1")
    assert r.status_code == 302
    back = parse_qs(urlsplit(r.headers["location"]).query)
    assert back["error"] == ["access_denied"]
    assert back["error_reason"] == ["user_denied"]
    assert back["state"] == ["st-1"]
    assert "code" not in back


async def test_exchange_gives_a_long_lived_token_and_the_account(make_connector: Make) -> None:
    ig = make_connector(InstagramConnector)
    grant = await connect(ig)
    tokens = grant.tokens
    assert tokens.expires_at is not None
    life = tokens.expires_at - datetime.now(UTC)
    assert timedelta(days=59) < life <= timedelta(days=60)
    # No separate refresh token: the long-lived token is kept as both.
    assert tokens.refresh_token == tokens.access_token
    assert "instagram_business_content_publish" in tokens.scopes
    (choice,) = grant.choices
    assert choice.external_id.isdigit()
    assert choice.username
    assert choice.username.startswith("sandbox.studio.")
    assert choice.extra["account_type"] == "BUSINESS"
    assert "Sealed('" in repr(tokens)


async def test_exchange_refuses_a_used_code_and_a_wrong_redirect(make_connector: Make) -> None:
    ig = make_connector(InstagramConnector)
    code, _ = await consent(ig)
    await ig.exchange_code(code, REDIRECT_URI, None)
    err = await expect(ErrorKind.REJECTED, ig.exchange_code(code, REDIRECT_URI, None))
    assert "authorization code" in err.message
    code, _ = await consent(ig)
    await expect(ErrorKind.REJECTED, ig.exchange_code(code, "https://evil.test/cb", None))


async def test_refresh_extends_the_token_and_keeps_it_as_refresh_token(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, tokens = await connected(make_connector)
    await advance(sandbox, 40 * DAY)
    refreshed = await ig.refresh_token(tokens)
    assert refreshed.refresh_token is not None
    assert refreshed.refresh_token
    assert refreshed.refresh_token == refreshed.access_token
    assert refreshed.expires_at is not None
    assert refreshed.expires_at - datetime.now(UTC) > timedelta(days=59)
    # 70 days after connecting: only a refreshed token still works.
    await advance(sandbox, 30 * DAY)
    fresh = AccountAuth(auth.external_id, refreshed.access_token)
    assert await ig.fetch_metrics(fresh, datetime.now(UTC).date(), datetime.now(UTC).date())
    again = await ig.refresh_token(refreshed)
    assert again.refresh_token


async def test_refresh_of_an_expired_token_needs_the_user(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, _, tokens = await connected(make_connector)
    await advance(sandbox, 61 * DAY)
    err = await expect(ErrorKind.AUTH, ig.refresh_token(tokens))
    assert err.code == "190"
    assert "subcode 463" in (err.detail or "")


async def test_refresh_uses_the_refresh_token_when_no_access_token_is_held(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, _, tokens = await connected(make_connector)
    await advance(sandbox, 2 * DAY)
    only_refresh = TokenSet(Sealed(""), tokens.refresh_token, None, tokens.refresh_expires_at)
    refreshed = await ig.refresh_token(only_refresh)
    assert refreshed.access_token == tokens.refresh_token


# --- Publishing -------------------------------------------------------------------------------


async def test_publish_an_image_and_find_it_by_id(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector)
    before = datetime.now(UTC) - timedelta(seconds=2)
    done = await ig.publish(auth, post("Fresh dough daily #pizza"), "ref-img")
    assert done.external_id.isdigit()
    assert done.permalink
    assert done.permalink.startswith("https://www.instagram.com/p/")
    assert done.published_at is not None
    assert done.published_at >= before.replace(microsecond=0)
    stored = (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"]
    assert [(p["id"], p["text"], p["client_ref"]) for p in stored] == [
        (done.external_id, "Fresh dough daily #pizza", "ref-img")
    ]
    attempt = PublishAttempt("ref-img", post("x"), before, external_id=done.external_id)
    found = await ig.fetch_post_status(auth, attempt)
    assert found is not None
    assert found.permalink == done.permalink


async def test_publish_a_reel_and_a_mixed_carousel(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector)
    reel = await ig.publish(auth, post("Watch the oven", VIDEO), "ref-reel")
    assert reel.permalink
    assert "/reel/" in reel.permalink
    album = await ig.publish(auth, post("Our menu", IMAGE, VIDEO, IMAGE), "ref-album")
    assert album.external_id != reel.external_id
    counts = (await sandbox.get(f"/_sandbox/publish-counts/{P}")).json()["counts"]
    assert counts == {"ref-reel": 1, "ref-album": 1}


async def test_link_is_appended_to_the_caption(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector)
    content = PostContent("Order online", link="https://pizza.example/order", media=(IMAGE,))
    await ig.publish(auth, content, "ref-link")
    (stored,) = (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"]
    assert stored["text"] == "Order online\n\nhttps://pizza.example/order"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (post("x" * 2201), "too long"),
        (post(" ".join(f"#tag{i}" for i in range(31))), "hashtags"),
        (PostContent("No picture"), "image_url"),
        (post("Too many", *([IMAGE] * 11)), "between 2 and 10"),
        (post("Bad url", Media("ftp://cdn.example.com/a.jpg")), "could not be fetched"),
    ],
    ids=["caption-2201", "31-hashtags", "no-media", "carousel-11", "unfetchable-media"],
)
async def test_publish_refused_content_is_rejected(
    make_connector: Make, sandbox: httpx.AsyncClient, content: PostContent, words: str
) -> None:
    ig, auth, _ = await connected(make_connector)
    err = await expect(ErrorKind.REJECTED, ig.publish(auth, content, "ref-bad"))
    assert words in (err.message + (err.detail or ""))
    assert (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"] == []


async def test_caption_of_exactly_2200_chars_and_30_hashtags_is_fine(make_connector: Make) -> None:
    ig, auth, _ = await connected(make_connector)
    tags = " ".join(f"#t{i}" for i in range(30))
    await ig.publish(auth, post(tags + " " + "x" * (2200 - len(tags) - 1)), "ref-edge")


async def test_publishing_cap_of_100_a_day_is_rate_limited_until_room_returns(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, tokens = await connected(make_connector)
    headers = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
    user = auth.external_id
    for i in range(100):
        c = await sandbox.post(
            f"{G}/{user}/media",
            headers=headers,
            data={"image_url": IMAGE.url, "caption": f"post {i}"},
        )
        p = await sandbox.post(
            f"{G}/{user}/media_publish", headers=headers, data={"creation_id": c.json()["id"]}
        )
        assert p.status_code == 200, p.text
    limit = await sandbox.get(
        f"{G}/{user}/content_publishing_limit",
        headers=headers,
        params={"fields": "config,quota_usage"},
    )
    assert limit.json()["data"] == [
        {"config": {"quota_total": 100, "quota_duration": 86400}, "quota_usage": 100}
    ]
    err = await expect(ErrorKind.RATE_LIMITED, ig.publish(auth, post("One more"), "ref-101"))
    assert err.code == "9"
    assert "subcode 2207042" in (err.detail or "")
    assert err.retry_after is not None
    assert 23 * 3600 < err.retry_after <= 24 * 3600
    counts = (await sandbox.get(f"/_sandbox/publish-counts/{P}")).json()["counts"]
    assert "ref-101" not in counts
    await advance(sandbox, DAY)
    await ig.publish(auth, post("Next day"), "ref-102")


async def test_publish_ambiguous_then_reconciled_exactly_once(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector, read_timeout=0.5)
    started = datetime.now(UTC)
    content = post("Held answer #ambiguous")
    # Image publish = create container, then media_publish: the second call is held.
    seed = seed_for(0.5, clean_calls=1)
    rates = {"accept_then_timeout": 0.5}
    await set_faults(sandbox, P, error_rates=rates, hold_s=5, seed=seed)
    err = await expect(ErrorKind.AMBIGUOUS, ig.publish(auth, content, "ref-amb"))
    assert "did not answer" in err.message
    await set_faults(sandbox, P)
    attempt = PublishAttempt("ref-amb", content, started)
    found = await ig.fetch_post_status(auth, attempt)
    assert found is not None
    stored = (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"]
    assert [p["id"] for p in stored] == [found.external_id]
    counts = (await sandbox.get(f"/_sandbox/publish-counts/{P}")).json()["counts"]
    assert counts == {"ref-amb": 1}


async def test_container_timeout_is_transient_and_publishes_nothing(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector, read_timeout=0.5)
    started = datetime.now(UTC)
    await set_faults(sandbox, P, error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    await expect(ErrorKind.TRANSIENT, ig.publish(auth, post("Never out"), "ref-c"))
    await set_faults(sandbox, P)
    assert (
        await ig.fetch_post_status(auth, PublishAttempt("ref-c", post("Never out"), started))
        is None
    )
    assert (await sandbox.get(f"/_sandbox/publish-counts/{P}")).json()["counts"] == {}


async def test_fetch_post_status_none_when_not_there(make_connector: Make) -> None:
    ig, auth, _ = await connected(make_connector)
    started = datetime.now(UTC)
    await ig.publish(auth, post("Something else"), "ref-other")
    assert await ig.fetch_post_status(auth, PublishAttempt("r", post("Mine"), started)) is None
    by_id = PublishAttempt("r", post("Mine"), started, external_id="18999999999999999")
    assert await ig.fetch_post_status(auth, by_id) is None


async def test_reconcile_pages_through_the_media_list(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, tokens = await connected(make_connector)
    started = datetime.now(UTC)
    first = await ig.publish(auth, post("The first one"), "ref-first")
    headers = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
    for i in range(55):
        c = await sandbox.post(
            f"{G}/{auth.external_id}/media",
            headers=headers,
            data={"image_url": IMAGE.url, "caption": f"filler {i}"},
        )
        await sandbox.post(
            f"{G}/{auth.external_id}/media_publish",
            headers=headers,
            data={"creation_id": c.json()["id"]},
        )
    found = await ig.fetch_post_status(auth, PublishAttempt("r", post("The first one"), started))
    assert found is not None
    assert found.external_id == first.external_id


async def test_delete_is_not_supported(make_connector: Make) -> None:
    ig = make_connector(InstagramConnector)
    assert ig.limits.supports_delete is False
    with pytest.raises(NotSupported):
        await ig.delete(AccountAuth("1", Sealed("t")), "123")


async def test_revoke_is_not_available(make_connector: Make) -> None:
    ig, auth, _ = await connected(make_connector)
    assert await ig.revoke(auth) is False


async def test_missing_publish_permission_is_auth(make_connector: Make) -> None:
    ig = make_connector(InstagramConnector)
    url = ig.authorize_url("st-1", REDIRECT_URI).url.replace(
        "instagram_business_content_publish", "instagram_business_basic"
    )
    async with httpx.AsyncClient() as browser:
        r = await browser.get(url)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    grant = await ig.exchange_code(code, REDIRECT_URI, None)
    err = await expect(ErrorKind.AUTH, ig.publish(auth_for(grant), post("No rights"), "ref-p"))
    assert err.code == "10"


# --- Metrics ----------------------------------------------------------------------------------


async def test_metrics_one_entry_per_day_in_insights_shape(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector)
    today = datetime.now(UTC).date()
    since = today - timedelta(days=40)  # more than one 30-day insights request
    days = await ig.fetch_metrics(auth, since, today)
    assert [d.day for d in days] == [since + timedelta(days=i) for i in range(41)]
    past = days[:-1]
    assert all(d.reach and d.impressions and d.reach <= d.impressions for d in past)
    assert all(d.engagements is not None and d.clicks is not None for d in past)
    assert all(d.followers is None for d in past)
    assert days[-1].followers
    assert days[-1].followers > 300
    assert days[-1].impressions is None  # today isn't over: no value yet
    again = await ig.fetch_metrics(auth, since, today)
    assert again == days


# --- Every error kind, every method ---------------------------------------------------------


async def _call(method: str, ig: InstagramConnector, auth: AccountAuth, tokens: TokenSet) -> Any:
    today = datetime.now(UTC).date()
    if method == "publish":
        return await ig.publish(auth, post(f"Faulty {random.random()}"), "ref-f")
    if method == "fetch_post_status":
        return await ig.fetch_post_status(auth, PublishAttempt("r", post("x"), datetime.now(UTC)))
    if method == "fetch_metrics":
        return await ig.fetch_metrics(auth, today - timedelta(days=3), today)
    if method == "refresh_token":
        return await ig.refresh_token(tokens)
    raise AssertionError(method)


METHODS = ("publish", "fetch_post_status", "fetch_metrics", "refresh_token")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_faults_are_classified(
    make_connector: Make, sandbox: httpx.AsyncClient, method: str, fault: str, kind: ErrorKind
) -> None:
    ig, auth, tokens = await connected(make_connector)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    err = await expect(kind, _call(method, ig, auth, tokens))
    if kind is ErrorKind.RATE_LIMITED and method != "refresh_token":
        # estimated_time_to_regain_access, in minutes, from X-Business-Use-Case-Usage.
        assert err.retry_after is not None
        assert 0 < err.retry_after <= DAY + 60  # whole minutes, rounded up
    assert tokens.access_token.reveal() not in repr(err) + err.message + (err.detail or "")


async def test_exchange_faults_are_classified(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig = make_connector(InstagramConnector)
    for fault, kind in (
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
    ):
        code, _ = await consent(ig)
        await set_faults(sandbox, P, error_rates={fault: 1.0})
        await expect(kind, ig.exchange_code(code, REDIRECT_URI, None))
        await set_faults(sandbox, P)


@pytest.mark.parametrize("method", METHODS)
async def test_expired_token_is_auth(
    make_connector: Make, sandbox: httpx.AsyncClient, method: str
) -> None:
    ig, auth, tokens = await connected(make_connector)
    await advance(sandbox, 60 * DAY + 1)
    err = await expect(ErrorKind.AUTH, _call(method, ig, auth, tokens))
    assert err.code == "190"
    assert "subcode 463" in (err.detail or "")


async def test_revoked_token_is_auth(make_connector: Make, sandbox: httpx.AsyncClient) -> None:
    ig, auth, tokens = await connected(make_connector)
    r = await sandbox.post(
        f"/_sandbox/tokens/{P}/revoke", json={"token": tokens.access_token.reveal()}
    )
    assert r.status_code == 200
    err = await expect(ErrorKind.AUTH, ig.publish(auth, post("Revoked"), "ref-r"))
    assert err.code == "190"
    assert "subcode 460" in (err.detail or "")


async def test_a_rate_limited_answer_says_when_to_come_back(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, tokens = await connected(make_connector)
    headers = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
    r = await sandbox.get(f"{G}/me", headers=headers)
    usage = r.headers["X-Business-Use-Case-Usage"]
    assert auth.external_id in usage
    await set_faults(sandbox, P, error_rates={"rate_limited": 1.0})
    err = await expect(
        ErrorKind.RATE_LIMITED,
        ig.fetch_metrics(auth, datetime.now(UTC).date(), datetime.now(UTC).date()),
    )
    # Graph counts the wait in whole minutes.
    assert err.retry_after == 60
    await set_faults(sandbox, P)
    # A refusal is a moment, not a lost day: the account's real window still has room.
    await ig.publish(auth, post("After the pause"), "ref-w2")


async def test_post_metrics_are_the_medias_lifetime_insights(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector)
    media_id = (await ig.publish(auth, post("Counted"), "pm-1")).external_id
    raw = await sandbox.get(
        f"{G}/{media_id}/insights",
        params={"metric": "impressions,reach,likes,comments,shares,saved"},
        headers={"Authorization": f"Bearer {auth.access_token.reveal()}"},
    )
    assert raw.status_code == 200, raw.text
    served = {s["name"]: s["values"][0]["value"] for s in raw.json()["data"]}
    got = (await ig.fetch_post_metrics(auth, [media_id]))[media_id]
    assert got.impressions == served["impressions"] > 0
    assert got.reach == served["reach"]
    assert (got.likes, got.comments, got.shares) == (
        served["likes"],
        served["comments"],
        served["shares"],
    )
    assert got.engagements == sum(served[k] for k in ("likes", "comments", "shares", "saved"))
    assert (got.clicks, got.views) == (None, None)
    await advance(sandbox, 2 * DAY)
    later = (await ig.fetch_post_metrics(auth, [media_id]))[media_id]
    assert (later.impressions or 0) > got.impressions


async def test_post_metrics_leave_out_unknown_media(make_connector: Make) -> None:
    ig, auth, _ = await connected(make_connector)
    media_id = (await ig.publish(auth, post("Kept"), "pm-k")).external_id
    found = await ig.fetch_post_metrics(auth, [media_id, "17999999999999999"])
    assert set(found) == {media_id}


async def test_post_metrics_rate_limit_is_rate_limited(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    ig, auth, _ = await connected(make_connector)
    media_id = (await ig.publish(auth, post("Limited"), "pm-l")).external_id
    await set_faults(sandbox, P, error_rates={"rate_limited": 1.0})
    err = await expect(ErrorKind.RATE_LIMITED, ig.fetch_post_metrics(auth, [media_id]))
    assert err.retry_after is not None
