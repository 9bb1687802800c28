"""The Pinterest connector against the sandbox: every interface method, success and each error
class it can meet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.platforms.pinterest import PinterestConnector
from shared.platforms.types import AccountAuth, Media, PostContent, PublishAttempt, TokenSet
from tests.platforms.conftest import REDIRECT_URI, auth_for, connect, consent, set_faults

Make = Callable[..., Any]
IMAGE = Media("https://cdn.example.com/pizza.jpg", alt_text="A pizza")
PIN = PostContent(
    text="Fresh pizza in Leeds today",
    title="Pizza night",
    link="https://example.com/menu",
    media=(IMAGE,),
)


@pytest.fixture
def pin(make_connector: Make) -> PinterestConnector:
    connector: PinterestConnector = make_connector(PinterestConnector)
    return connector


async def _counts(sandbox: httpx.AsyncClient) -> dict[str, int]:
    counts: dict[str, int] = (await sandbox.get("/_sandbox/publish-counts/pinterest")).json()[
        "counts"
    ]
    return counts


def _bearer(auth: AccountAuth) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.access_token.reveal()}"}


async def test_connect_gives_the_user_with_their_board(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    request = pin.authorize_url("st-1", REDIRECT_URI)
    assert request.code_verifier is None  # Pinterest has no PKCE
    scope = parse_qs(urlsplit(request.url).query)["scope"][0]
    assert scope == "boards:read,pins:read,pins:write,user_accounts:read"
    grant = await connect(pin)
    (choice,) = grant.choices
    assert choice.username
    assert choice.username.startswith("sandbox_pinner_")
    boards = await sandbox.get(
        "/pinterest/v5/boards",
        headers={"Authorization": f"Bearer {grant.tokens.access_token.reveal()}"},
    )
    assert choice.extra == {"board_id": boards.json()["items"][0]["id"]}
    now = datetime.now(UTC)
    assert grant.tokens.expires_at is not None
    assert timedelta(days=29) < grant.tokens.expires_at - now <= timedelta(days=30)
    assert grant.tokens.refresh_token is not None
    assert grant.tokens.refresh_expires_at is not None
    assert timedelta(days=59) < grant.tokens.refresh_expires_at - now <= timedelta(days=60)
    assert grant.tokens.access_token.reveal() not in repr(grant)
    assert grant.tokens.refresh_token.reveal() not in repr(grant)


async def test_user_can_refuse_consent(pin: PinterestConnector) -> None:
    request = pin.authorize_url("st-deny", REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(f"{request.url}&sandbox_deny=1")
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["error"] == ["access_denied"]
    assert back["state"] == ["st-deny"]
    assert "code" not in back


async def test_a_used_or_misdirected_code_is_refused(pin: PinterestConnector) -> None:
    code, _ = await consent(pin)
    await pin.exchange_code(code, REDIRECT_URI, None)
    with pytest.raises(PlatformError) as err:
        await pin.exchange_code(code, REDIRECT_URI, None)
    assert err.value.kind is ErrorKind.REJECTED
    assert "authorization code" in err.value.message
    code, _ = await consent(pin)
    with pytest.raises(PlatformError) as err:
        await pin.exchange_code(code, REDIRECT_URI + "/elsewhere", None)
    assert err.value.kind is ErrorKind.REJECTED
    assert "redirect_uri" in err.value.message


async def test_refresh_gives_new_tokens_and_keeps_a_refresh_token(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    grant = await connect(pin)
    auth = auth_for(grant)
    tokens = grant.tokens
    fresh = await pin.refresh_token(tokens)
    assert fresh.refresh_token is not None
    assert tokens.refresh_token is not None
    assert fresh.refresh_token.reveal() != tokens.refresh_token.reveal()  # continuous refresh
    assert fresh.access_token.reveal() != tokens.access_token.reveal()
    assert fresh.refresh_expires_at is not None
    # 30 days on, the access token has expired: auth, until a refresh brings it back
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 30 * 24 * 3600 + 5})
    with pytest.raises(PlatformError) as err:
        await pin.publish(auth, PIN, "ref-exp")
    assert err.value.kind is ErrorKind.AUTH
    assert "Reconnect" in err.value.message
    renewed = await pin.refresh_token(fresh)
    assert renewed.refresh_token is not None
    live = AccountAuth(auth.external_id, renewed.access_token, auth.extra)
    assert (await pin.publish(live, PIN, "ref-ok")).external_id
    # a refresh token unused for 60 days has expired: the account must reconnect
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 31 * 24 * 3600})
    with pytest.raises(PlatformError) as err:
        await pin.refresh_token(grant.tokens)
    assert err.value.kind is ErrorKind.AUTH
    with pytest.raises(PlatformError) as err:
        await pin.refresh_token(TokenSet(access_token=renewed.access_token))
    assert err.value.kind is ErrorKind.AUTH


async def test_revoked_token_is_auth_and_there_is_no_revoke_api(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(pin))
    assert await pin.revoke(auth) is False
    await sandbox.post(
        "/_sandbox/tokens/pinterest/revoke", json={"token": auth.access_token.reveal()}
    )
    with pytest.raises(PlatformError) as err:
        await pin.publish(auth, PIN, "ref-r")
    assert err.value.kind is ErrorKind.AUTH


async def test_publish_then_find_and_delete(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(pin))
    started = datetime.now(UTC)
    done = await pin.publish(auth, PIN, "ref-1")
    assert done.permalink == f"https://www.pinterest.com/pin/{done.external_id}/"
    assert done.published_at is not None
    assert abs((done.published_at - started).total_seconds()) < 60
    (stored,) = (await sandbox.get("/_sandbox/posts/pinterest")).json()["data"]
    assert (stored["id"], stored["text"], stored["link"], stored["client_ref"]) == (
        done.external_id,
        PIN.text,
        PIN.link,
        "ref-1",
    )
    assert stored["media"] == [IMAGE.url]
    got = (
        await sandbox.get(f"/pinterest/v5/pins/{done.external_id}", headers=_bearer(auth))
    ).json()
    assert (got["title"], got["alt_text"], got["board_id"]) == (
        "Pizza night",
        "A pizza",
        auth.extra["board_id"],
    )
    by_id = await pin.fetch_post_status(
        auth, PublishAttempt("ref-1", PIN, started, external_id=done.external_id)
    )
    by_text = await pin.fetch_post_status(auth, PublishAttempt("ref-1", PIN, started))
    assert by_id is not None
    assert by_text is not None
    assert by_id.external_id == by_text.external_id == done.external_id
    other = PostContent(text="Never sent", media=(IMAGE,))
    assert await pin.fetch_post_status(auth, PublishAttempt("ref-2", other, started)) is None
    await pin.delete(auth, done.external_id)
    await pin.delete(auth, done.external_id)  # already gone: nothing to do
    gone = PublishAttempt("ref-1", PIN, started, external_id=done.external_id)
    assert await pin.fetch_post_status(auth, gone) is None
    assert await pin.fetch_post_status(auth, PublishAttempt("ref-1", PIN, started)) is None


async def test_several_images_make_a_carousel(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(pin))
    urls = [f"https://cdn.example.com/{i}.jpg" for i in range(3)]
    content = PostContent(text="Three pizzas", media=tuple(Media(u) for u in urls))
    done = await pin.publish(auth, content, "ref-c")
    (stored,) = (await sandbox.get("/_sandbox/posts/pinterest")).json()["data"]
    assert stored["media"] == urls
    got = (
        await sandbox.get(f"/pinterest/v5/pins/{done.external_id}", headers=_bearer(auth))
    ).json()
    assert got["media"]["media_type"] == "multiple_images"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (PostContent(text="no picture"), "media_source is required"),
        (PostContent(text="t", title="T" * 101, media=(IMAGE,)), "title: at most 100"),
        (PostContent(text="d" * 501, media=(IMAGE,)), "description: at most 500"),
        (PostContent(text="l", link="ftp://example.com/x", media=(IMAGE,)), "link"),
        (
            PostContent(text="v", media=(Media("https://cdn.example/v.mp4", "video"),)),
            "only images",
        ),
        (PostContent(text="6", media=tuple(IMAGE for _ in range(6))), "at most 5"),
    ],
)
async def test_content_pinterest_refuses_is_rejected_with_its_reason(
    pin: PinterestConnector, sandbox: httpx.AsyncClient, content: PostContent, words: str
) -> None:
    auth = auth_for(await connect(pin))
    with pytest.raises(PlatformError) as err:
        await pin.publish(auth, content, "ref-bad")
    assert err.value.kind is ErrorKind.REJECTED
    assert words in err.value.message
    assert await _counts(sandbox) == {}


async def test_account_without_board_is_rejected(pin: PinterestConnector) -> None:
    auth = auth_for(await connect(pin))
    no_board = AccountAuth(auth.external_id, auth.access_token, {})
    with pytest.raises(PlatformError) as err:
        await pin.publish(no_board, PIN, "ref-nb")
    assert err.value.kind is ErrorKind.REJECTED
    assert "board" in err.value.message
    someone_else = AccountAuth(auth.external_id, auth.access_token, {"board_id": "1"})
    with pytest.raises(PlatformError) as err:
        await pin.publish(someone_else, PIN, "ref-nb")
    assert err.value.kind is ErrorKind.REJECTED
    assert "Board not found" in err.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_faults_are_classified(
    pin: PinterestConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    auth = auth_for(await connect(pin))
    await set_faults(sandbox, "pinterest", error_rates={fault: 1.0})
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    calls = [
        pin.publish(auth, PIN, "ref-f"),
        pin.fetch_post_status(auth, PublishAttempt("ref-f", PIN, now)),
        pin.fetch_post_status(auth, PublishAttempt("ref-f", PIN, now, "1000")),
        pin.fetch_metrics(auth, today, today),
        pin.delete(auth, "1000"),
    ]
    for call in calls:
        with pytest.raises(PlatformError) as err:
            await call
        assert err.value.kind is kind
        if kind is ErrorKind.RATE_LIMITED:
            assert err.value.retry_after is not None
            assert 0 < err.value.retry_after <= 61
    assert await _counts(sandbox) == {}


async def test_spent_write_window_is_rate_limited_until_reset(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(pin))
    body = {
        "board_id": auth.extra["board_id"],
        "media_source": {"source_type": "image_url", "url": IMAGE.url},
    }
    for i in range(100):  # org_write: 100 per user per minute
        r = await sandbox.post(
            "/pinterest/v5/pins", json={**body, "description": f"pin {i}"}, headers=_bearer(auth)
        )
        assert r.status_code == 201
    with pytest.raises(PlatformError) as err:
        await pin.publish(auth, PIN, "ref-101")
    assert err.value.kind is ErrorKind.RATE_LIMITED
    assert err.value.retry_after is not None
    assert 30 < err.value.retry_after <= 61
    assert err.value.code == "8"
    # reads are another category: reconciling still works while writes wait
    assert await pin.fetch_post_status(auth, PublishAttempt("x", PIN, datetime.now(UTC))) is None
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 61})
    assert (await pin.publish(auth, PIN, "ref-101")).external_id


async def test_lost_answer_is_ambiguous_and_reconciles_to_one_pin(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    pin: PinterestConnector = make_connector(PinterestConnector, read_timeout=0.5)
    auth = auth_for(await connect(pin))
    await set_faults(sandbox, "pinterest", error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    started = datetime.now(UTC)
    with pytest.raises(PlatformError) as err:
        await pin.publish(auth, PIN, "ref-amb")
    assert err.value.kind is ErrorKind.AMBIGUOUS
    assert not err.value.retryable
    await set_faults(sandbox, "pinterest")
    found = await pin.fetch_post_status(auth, PublishAttempt("ref-amb", PIN, started))
    assert found is not None
    stored = (await sandbox.get("/_sandbox/posts/pinterest")).json()["data"]
    assert [p["id"] for p in stored] == [found.external_id]
    assert await _counts(sandbox) == {"ref-amb": 1}


async def test_metrics_per_day_in_pinterests_numbers(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(pin))
    today = datetime.now(UTC).date()
    since = today - timedelta(days=6)
    days = await pin.fetch_metrics(auth, since, today)
    assert [d.day for d in days] == [since + timedelta(days=i) for i in range(7)]
    truth = (
        await sandbox.get(
            "/pinterest/v5/user_account/analytics",
            params={"start_date": since.isoformat(), "end_date": today.isoformat()},
            headers=_bearer(auth),
        )
    ).json()["all"]["daily_metrics"]
    assert [t["data_status"] for t in truth] == ["READY"] * 6 + ["ESTIMATE"]
    for got, want in zip(days, truth, strict=True):
        m = want["metrics"]
        assert got.impressions == m["IMPRESSION"]
        assert got.engagements == m["ENGAGEMENT"]
        assert got.clicks == m["PIN_CLICK"] + m["OUTBOUND_CLICK"]
        assert got.reach is None
        assert got.posts_published is None
    account = (await sandbox.get("/pinterest/v5/user_account", headers=_bearer(auth))).json()
    assert days[-1].followers == account["follower_count"]
    assert all(d.followers is None for d in days[:-1])
    assert await pin.fetch_metrics(auth, since, today) == days  # stable


async def test_metrics_beyond_pinterests_90_days_are_rejected(pin: PinterestConnector) -> None:
    auth = auth_for(await connect(pin))
    today = datetime.now(UTC).date()
    with pytest.raises(PlatformError) as err:
        await pin.fetch_metrics(auth, today - timedelta(days=120), today - timedelta(days=100))
    assert err.value.kind is ErrorKind.REJECTED
    assert "90 days" in err.value.message


async def test_no_reviews_on_pinterest(pin: PinterestConnector) -> None:
    auth = auth_for(await connect(pin))
    with pytest.raises(NotSupported):
        await pin.fetch_reviews(auth, None)
    with pytest.raises(NotSupported):
        await pin.reply_to_review(auth, "1", "thanks")


async def test_post_metrics_are_the_pins_analytics_summed(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(pin))
    pin_id = (await pin.publish(auth, PIN, "pm-1")).external_id
    today = datetime.now(UTC).date()
    raw = await sandbox.get(
        f"/pinterest/v5/pins/{pin_id}/analytics",
        params={
            "start_date": (today - timedelta(days=89)).isoformat(),
            "end_date": today.isoformat(),
            "metric_types": "IMPRESSION,ENGAGEMENT,PIN_CLICK,OUTBOUND_CLICK,SAVE",
        },
        headers=_bearer(auth),
    )
    assert raw.status_code == 200, raw.text
    served = raw.json()["all"]["summary_metrics"]
    found = await pin.fetch_post_metrics(auth, [pin_id])
    got = found[pin_id]
    assert got.impressions == served["IMPRESSION"] > 0
    assert got.engagements == served["ENGAGEMENT"]
    assert got.shares == served["SAVE"]
    assert got.clicks == served["PIN_CLICK"] + served["OUTBOUND_CLICK"]
    assert (got.reach, got.likes, got.comments, got.views) == (None, None, None, None)


async def test_post_metrics_leave_out_deleted_and_unknown_pins(pin: PinterestConnector) -> None:
    auth = auth_for(await connect(pin))
    kept = (await pin.publish(auth, PIN, "pm-k")).external_id
    gone = (await pin.publish(auth, PIN, "pm-g")).external_id
    await pin.delete(auth, gone)
    found = await pin.fetch_post_metrics(auth, [kept, gone, "999999999999"])
    assert set(found) == {kept}


async def test_post_metrics_outage_is_transient(
    pin: PinterestConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(pin))
    kept = (await pin.publish(auth, PIN, "pm-o")).external_id
    await set_faults(sandbox, "pinterest", error_rates={"server_error": 1.0})
    with pytest.raises(PlatformError) as err:
        await pin.fetch_post_metrics(auth, [kept])
    assert err.value.kind is ErrorKind.TRANSIENT
