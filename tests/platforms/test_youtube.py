"""YouTube connector against the sandbox, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.sandbox import activity
from services.sandbox.state import PlatformState
from shared.platforms._google import seconds_to_pacific_midnight
from shared.platforms.errors import ErrorKind, NotSupported
from shared.platforms.types import AccountAuth, Media, PostContent, PublishAttempt, TokenSet
from shared.platforms.youtube import YouTubeConnector
from tests.platforms.conftest import (
    REDIRECT_URI,
    auth_for,
    connect,
    consent,
    expect,
    set_faults,
)

P = "youtube"
Make = Callable[..., Any]


@pytest.fixture
def yt(make_connector: Make) -> YouTubeConnector:
    connector: YouTubeConnector = make_connector(YouTubeConnector)
    return connector


@pytest.fixture
def video(sandbox_url: str) -> Media:
    return Media(f"{sandbox_url}/youtube/_media/sample.mp4", "video")


async def _connected(yt: YouTubeConnector) -> tuple[TokenSet, AccountAuth]:
    grant = await connect(yt)
    return grant.tokens, auth_for(grant)


async def _counts(sandbox: httpx.AsyncClient) -> dict[str, int]:
    counts: dict[str, int] = (await sandbox.get(f"/_sandbox/publish-counts/{P}")).json()["counts"]
    return counts


# --- OAuth ---------------------------------------------------------------------------------------


async def test_connect_finds_the_channel(yt: YouTubeConnector) -> None:
    grant = await connect(yt)
    assert len(grant.choices) == 1
    channel = grant.choices[0]
    assert channel.external_id.startswith("UC")
    assert len(channel.external_id) == 24
    assert channel.kind == "channel"
    assert channel.name
    assert channel.username
    assert channel.extra["uploads_playlist"] == "UU" + channel.external_id[2:]
    assert grant.tokens.refresh_token
    assert grant.tokens.expires_at
    assert "https://www.googleapis.com/auth/youtube.upload" in grant.tokens.scopes


async def test_denied_consent_and_pkce(yt: YouTubeConnector) -> None:
    request = yt.authorize_url("st-2", REDIRECT_URI)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(request.url + "&sandbox_deny=1")
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert answer.status_code == 302
    assert back["error"] == ["access_denied"]
    assert back["state"] == ["st-2"]
    assert "code" not in back
    code, verifier = await consent(yt)
    assert verifier
    err = await expect(ErrorKind.AUTH, yt.exchange_code(code, REDIRECT_URI, "x" * 64))
    assert err.code == "invalid_grant"


async def test_refresh_keeps_the_refresh_token_and_works(
    yt: YouTubeConnector, sandbox: httpx.AsyncClient, video: Media
) -> None:
    tokens, auth = await _connected(yt)
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 3600})
    await expect(ErrorKind.AUTH, yt.publish(auth, PostContent("Old token", media=(video,)), "r0"))
    fresh = await yt.refresh_token(tokens)
    assert fresh.refresh_token is not None
    assert tokens.refresh_token is not None
    assert fresh.refresh_token.reveal() == tokens.refresh_token.reveal()
    assert fresh.scopes == tokens.scopes
    again = await yt.refresh_token(fresh)
    assert again.refresh_token is not None
    auth = AccountAuth(auth.external_id, again.access_token, auth.extra)
    published = await yt.publish(auth, PostContent("New token", media=(video,)), "r1")
    assert published.external_id
    assert await _counts(sandbox) == {"r1": 1}


async def test_revoke(yt: YouTubeConnector) -> None:
    tokens, auth = await _connected(yt)
    assert await yt.revoke(auth) is True
    today = datetime.now(UTC).date()
    await expect(ErrorKind.AUTH, yt.fetch_metrics(auth, today, today))
    await expect(ErrorKind.AUTH, yt.refresh_token(tokens))


# --- Publishing ----------------------------------------------------------------------------------


async def test_upload_a_video(
    yt: YouTubeConnector, sandbox: httpx.AsyncClient, video: Media, sandbox_url: str
) -> None:
    _, auth = await _connected(yt)
    content = PostContent(
        "Behind the scenes at our new kitchen\nWe fire the oven at 6 am.",
        link="https://example.com/kitchen",
        media=(video,),
    )
    published = await yt.publish(auth, content, "ref-v1")
    assert len(published.external_id) == 11
    assert published.permalink == f"https://www.youtube.com/watch?v={published.external_id}"
    assert published.published_at is not None
    attempt = PublishAttempt("ref-v1", content, datetime.now(UTC), published.external_id)
    assert await yt.fetch_post_status(auth, attempt) is not None
    headers = {"Authorization": f"Bearer {auth.access_token.reveal()}"}
    r = await sandbox.get(
        f"/{P}/youtube/v3/videos",
        params={"part": "snippet,status", "id": published.external_id},
        headers=headers,
    )
    item = r.json()["items"][0]
    assert item["snippet"]["title"] == "Behind the scenes at our new kitchen"
    assert item["snippet"]["description"].endswith("https://example.com/kitchen")
    assert item["snippet"]["channelId"] == auth.external_id
    assert item["status"]["privacyStatus"] == "public"
    assert await _counts(sandbox) == {"ref-v1": 1}


async def test_long_first_line_makes_a_fitting_title(
    yt: YouTubeConnector, video: Media, sandbox: httpx.AsyncClient
) -> None:
    _, auth = await _connected(yt)
    published = await yt.publish(auth, PostContent("<b>" + "a" * 150, media=(video,)), "r")
    r = await sandbox.get(
        f"/{P}/youtube/v3/videos",
        params={"part": "snippet", "id": published.external_id},
        headers={"Authorization": f"Bearer {auth.access_token.reveal()}"},
    )
    title = r.json()["items"][0]["snippet"]["title"]
    assert len(title) == 100
    assert "<" not in title
    assert title.endswith("…")


@pytest.mark.parametrize(
    ("text", "title", "with_video", "said"),
    [
        ("No video", None, False, "exactly one video"),
        ("x" * 5001, None, True, "description"),
        ("t", "T" * 101, True, "title"),
    ],
)
async def test_upload_rejections(
    yt: YouTubeConnector,
    sandbox: httpx.AsyncClient,
    video: Media,
    text: str,
    title: str | None,
    with_video: bool,
    said: str,
) -> None:
    _, auth = await _connected(yt)
    content = PostContent(text, title=title, media=(video,) if with_video else ())
    err = await expect(ErrorKind.REJECTED, yt.publish(auth, content, "ref-bad"))
    assert said in err.message
    photo = PostContent("Photo", media=(Media("https://e.com/a.jpg"),))
    await expect(ErrorKind.REJECTED, yt.publish(auth, photo, "ref-photo"))
    assert await _counts(sandbox) == {}


async def test_video_url_is_fetched_safely(yt: YouTubeConnector, sandbox_url: str) -> None:
    _, auth = await _connected(yt)
    blocked = PostContent("Internal", media=(Media("http://169.254.169.254/latest", "video"),))
    err = await expect(ErrorKind.REJECTED, yt.publish(auth, blocked, "ref-ssrf"))
    assert "cannot be used" in err.message
    missing = PostContent("Gone", media=(Media(f"{sandbox_url}/youtube/_media/nope.mp4", "video"),))
    err = await expect(ErrorKind.REJECTED, yt.publish(auth, missing, "ref-404"))
    assert "404" in err.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_upload_faults(
    yt: YouTubeConnector, sandbox: httpx.AsyncClient, video: Media, fault: str, kind: ErrorKind
) -> None:
    _, auth = await _connected(yt)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    err = await expect(kind, yt.publish(auth, PostContent("Hi", media=(video,)), "ref-f"))
    if kind is ErrorKind.RATE_LIMITED:
        assert err.code == "userRateLimitExceeded"
    assert await _counts(sandbox) == {}


async def test_daily_quota_allows_six_uploads(
    yt: YouTubeConnector, sandbox: httpx.AsyncClient, video: Media
) -> None:
    tokens, auth = await _connected(yt)
    for i in range(6):
        await yt.publish(auth, PostContent(f"Clip {i}", media=(video,)), f"ref-{i}")
    err = await expect(
        ErrorKind.RATE_LIMITED, yt.publish(auth, PostContent("7", media=(video,)), "ref-7")
    )
    assert err.code == "quotaExceeded"
    assert err.status == 403
    assert err.retry_after is not None
    assert abs(err.retry_after - seconds_to_pacific_midnight()) < 5
    assert len(await _counts(sandbox)) == 6
    # The quota is the project's: another user of the same app can't upload either, though
    # cheaper calls (a delete costs 50 units) still fit in what is left.
    _, other = await _connected(yt)
    clip = PostContent("Other", media=(video,))
    await expect(ErrorKind.RATE_LIMITED, yt.publish(other, clip, "ref-o"))
    await yt.delete(other, "abcdefghijk")
    # At midnight Pacific the quota starts over.
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": err.retry_after + 1})
    fresh = await yt.refresh_token(tokens)
    await yt.publish(AccountAuth(auth.external_id, fresh.access_token), clip, "ref-next-day")


async def test_ambiguous_upload_is_reconciled_without_repeating(
    make_connector: Make, sandbox: httpx.AsyncClient, video: Media
) -> None:
    slow: YouTubeConnector = make_connector(YouTubeConnector, read_timeout=0.5)
    _, auth = await _connected(slow)
    await slow.publish(auth, PostContent("An older clip", media=(video,)), "ref-old")
    content = PostContent("Our summer menu, in 30 seconds", media=(video,))
    started = datetime.now(UTC)
    await set_faults(sandbox, P, error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    await expect(ErrorKind.AMBIGUOUS, slow.publish(auth, content, "ref-amb"))
    await set_faults(sandbox, P)
    found = await slow.fetch_post_status(auth, PublishAttempt("ref-amb", content, started))
    assert found is not None
    assert found.permalink
    assert found.permalink.endswith(found.external_id)
    counts = await _counts(sandbox)
    assert counts["ref-amb"] == 1
    posts = (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"]
    assert {p["id"] for p in posts if p["client_ref"] == "ref-amb"} == {found.external_id}
    other = PublishAttempt("ref-none", PostContent("Never sent", media=(video,)), started)
    assert await slow.fetch_post_status(auth, other) is None


async def test_delete(yt: YouTubeConnector, sandbox: httpx.AsyncClient, video: Media) -> None:
    _, auth = await _connected(yt)
    content = PostContent("Delete me", media=(video,))
    published = await yt.publish(auth, content, "ref-del")
    await set_faults(sandbox, P, error_rates={"server_error": 1.0})
    await expect(ErrorKind.TRANSIENT, yt.delete(auth, published.external_id))
    await set_faults(sandbox, P)
    await yt.delete(auth, published.external_id)
    attempt = PublishAttempt("ref-del", content, datetime.now(UTC), published.external_id)
    assert await yt.fetch_post_status(auth, attempt) is None
    assert (
        await yt.fetch_post_status(auth, PublishAttempt("r", content, attempt.started_at)) is None
    )
    await yt.delete(auth, published.external_id)  # already gone
    _, other = await _connected(yt)
    mine = await yt.publish(auth, PostContent("Mine", media=(video,)), "ref-mine")
    await expect(ErrorKind.AUTH, yt.delete(other, mine.external_id))
    await expect(ErrorKind.REJECTED, yt.delete(auth, "../../channels"))


# --- Metrics and reviews -------------------------------------------------------------------------


async def test_metrics_by_day(yt: YouTubeConnector) -> None:
    _, auth = await _connected(yt)
    today = datetime.now(UTC).date()
    since = today - timedelta(days=4)
    days = await yt.fetch_metrics(auth, since, today)
    assert [d.day for d in days] == [since + timedelta(days=i) for i in range(5)]
    for got in days:
        expected = activity.daily_metrics(PlatformState(), auth.external_id, got.day)
        assert got.impressions == expected.impressions
        assert got.engagements is not None
        assert abs(got.engagements - expected.engagements) <= expected.engagements // 20 + 1
    assert (
        days[-1].followers
        == activity.daily_metrics(PlatformState(), auth.external_id, today).followers
    )
    assert all(d.followers is None for d in days[:-1])
    past = await yt.fetch_metrics(auth, since - timedelta(days=3), since - timedelta(days=1))
    assert all(d.followers is None and d.impressions for d in past)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_metrics_faults(
    yt: YouTubeConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    _, auth = await _connected(yt)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    today = datetime.now(UTC).date()
    await expect(kind, yt.fetch_metrics(auth, today - timedelta(days=1), today))


async def test_no_reviews_on_youtube(yt: YouTubeConnector) -> None:
    _, auth = await _connected(yt)
    with pytest.raises(NotSupported):
        await yt.fetch_reviews(auth, None)
    with pytest.raises(NotSupported):
        await yt.reply_to_review(auth, "x", "Thanks")
    assert not yt.limits.supports_reviews


async def test_post_metrics_are_the_videos_statistics_in_one_call(
    yt: YouTubeConnector, sandbox: httpx.AsyncClient, video: Media
) -> None:
    tokens, auth = await _connected(yt)
    ids = [
        (await yt.publish(auth, PostContent(f"Clip {i}", media=(video,)), f"pm-{i}")).external_id
        for i in range(2)
    ]
    raw = await sandbox.get(
        f"/{P}/youtube/v3/videos",
        params={"part": "statistics", "id": ",".join(ids)},
        headers={"Authorization": f"Bearer {auth.access_token.reveal()}"},
    )
    served = {item["id"]: item["statistics"] for item in raw.json()["items"]}
    found = await yt.fetch_post_metrics(auth, ids)
    assert set(found) == set(ids)
    for video_id, stats in served.items():
        got = found[video_id]
        assert got.views == int(stats["viewCount"]) > 0
        assert got.likes == int(stats["likeCount"])
        assert got.comments == int(stats["commentCount"])
        assert got.engagements == got.likes + got.comments
        assert (got.impressions, got.reach, got.clicks) == (None, None, None)
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 4 * 86_400})
    fresh = await yt.refresh_token(tokens)  # an hour-long token does not last four days
    auth = AccountAuth(auth.external_id, fresh.access_token, auth.extra)
    later = await yt.fetch_post_metrics(auth, ids)
    assert all((later[i].views or 0) > (found[i].views or 0) for i in ids)


async def test_post_metrics_leave_out_deleted_and_unknown_videos(
    yt: YouTubeConnector, video: Media
) -> None:
    _, auth = await _connected(yt)
    kept = (await yt.publish(auth, PostContent("Kept", media=(video,)), "pm-k")).external_id
    gone = (await yt.publish(auth, PostContent("Gone", media=(video,)), "pm-g")).external_id
    await yt.delete(auth, gone)
    found = await yt.fetch_post_metrics(auth, [kept, gone, "AAAAAAAAAAA", "not a video id!"])
    assert set(found) == {kept}


async def test_post_metrics_short_term_limit_is_rate_limited(
    yt: YouTubeConnector, sandbox: httpx.AsyncClient, video: Media
) -> None:
    _, auth = await _connected(yt)
    kept = (await yt.publish(auth, PostContent("Limited", media=(video,)), "pm-l")).external_id
    await set_faults(sandbox, P, error_rates={"rate_limited": 1.0})
    err = await expect(ErrorKind.RATE_LIMITED, yt.fetch_post_metrics(auth, [kept]))
    assert err.code == "userRateLimitExceeded"
