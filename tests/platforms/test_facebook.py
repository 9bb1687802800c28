"""The Facebook connector against the sandbox: every interface method, success and each error
class it can meet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.facebook import FacebookConnector
from shared.platforms.types import Media, PostContent, PublishAttempt
from tests.platforms.conftest import REDIRECT_URI, auth_for, connect, consent, set_faults

Make = Callable[..., Any]


@pytest.fixture
def fb(make_connector: Make) -> FacebookConnector:
    connector: FacebookConnector = make_connector(FacebookConnector)
    return connector


async def test_connect_lists_pages_with_their_own_tokens(fb: FacebookConnector) -> None:
    grant = await connect(fb)
    assert len(grant.choices) == 2
    assert all(c.kind == "page" and c.access_token for c in grant.choices)
    assert grant.choices[0].name.startswith("Sandbox Page")
    # the long-lived user token lives ~60 days
    assert grant.tokens.expires_at is not None
    assert grant.tokens.expires_at - datetime.now(UTC) > timedelta(days=59)
    assert "EAA" not in repr(grant)  # tokens never show in a repr


async def test_a_used_code_is_refused(fb: FacebookConnector) -> None:
    code, _ = await consent(fb)
    await fb.exchange_code(code, REDIRECT_URI, None)
    with pytest.raises(PlatformError) as err:
        await fb.exchange_code(code, REDIRECT_URI, None)
    assert err.value.kind is ErrorKind.REJECTED
    assert "authorization code" in (err.value.detail or "")


async def test_publish_text_then_find_read_and_delete(
    fb: FacebookConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(fb))
    content = PostContent(text="Fresh pizza in Leeds today", link="https://example.com/menu")
    done = await fb.publish(auth, content, "ref-1")
    assert done.external_id.startswith(auth.external_id + "_")
    assert done.permalink
    assert "facebook.com" in done.permalink
    stored = (await sandbox.get("/_sandbox/posts/facebook")).json()["data"]
    assert [(p["text"], p["link"], p["client_ref"]) for p in stored] == [
        ("Fresh pizza in Leeds today", "https://example.com/menu", "ref-1")
    ]
    started = datetime.now(UTC) - timedelta(seconds=5)
    by_id = await fb.fetch_post_status(
        auth, PublishAttempt("ref-1", content, started, external_id=done.external_id)
    )
    by_text = await fb.fetch_post_status(auth, PublishAttempt("ref-1", content, started))
    assert by_id is not None
    assert by_text is not None
    assert by_id.external_id == by_text.external_id == done.external_id
    await fb.delete(auth, done.external_id)
    assert (
        await fb.fetch_post_status(
            auth, PublishAttempt("ref-1", content, started, external_id=done.external_id)
        )
        is None
    )
    assert await fb.fetch_post_status(auth, PublishAttempt("ref-1", content, started)) is None


async def test_photo_posts_carry_their_images(
    fb: FacebookConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(fb))
    one = PostContent(text="One photo", media=(Media("https://cdn.example.com/a.jpg"),))
    two = PostContent(
        text="Two photos",
        media=(Media("https://cdn.example.com/a.jpg"), Media("https://cdn.example.com/b.jpg")),
    )
    await fb.publish(auth, one, "ref-one")
    await fb.publish(auth, two, "ref-two")
    stored = {
        p["client_ref"]: p for p in (await sandbox.get("/_sandbox/posts/facebook")).json()["data"]
    }
    assert stored["ref-one"]["media"] == ["https://cdn.example.com/a.jpg"]
    assert stored["ref-two"]["media"] == [
        "https://cdn.example.com/a.jpg",
        "https://cdn.example.com/b.jpg",
    ]


async def test_too_long_is_rejected_before_sending(
    fb: FacebookConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(fb))
    with pytest.raises(PlatformError) as err:
        await fb.publish(auth, PostContent(text="x" * 63_207), "ref-long")
    assert err.value.kind is ErrorKind.REJECTED
    assert "63206" in err.value.message
    assert (await sandbox.get("/_sandbox/publish-counts/facebook")).json()["counts"] == {}


async def test_platform_refusal_is_rejected_with_its_reason(fb: FacebookConnector) -> None:
    auth = auth_for(await connect(fb))
    with pytest.raises(PlatformError) as err:
        await fb.publish(auth, PostContent(text=""), "ref-empty")
    assert err.value.kind is ErrorKind.REJECTED
    assert "Missing message or attachment" in err.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_faults_are_classified(
    fb: FacebookConnector, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    auth = auth_for(await connect(fb))
    await set_faults(sandbox, "facebook", error_rates={fault: 1.0})
    calls = [
        fb.publish(auth, PostContent(text="hello"), "ref-f"),
        fb.fetch_reviews(auth, None),
        fb.fetch_metrics(auth, datetime.now(UTC).date(), datetime.now(UTC).date()),
        fb.delete(auth, f"{auth.external_id}_1"),
    ]
    for call in calls:
        with pytest.raises(PlatformError) as err:
            await call
        assert err.value.kind is kind
        if kind is ErrorKind.RATE_LIMITED:
            assert err.value.retry_after is not None
            assert err.value.retry_after >= 60


async def test_expired_or_revoked_tokens_are_auth_errors(
    fb: FacebookConnector, sandbox: httpx.AsyncClient
) -> None:
    grant = await connect(fb)
    page = auth_for(grant)
    assert await fb.revoke(page) is True
    with pytest.raises(PlatformError) as err:
        await fb.publish(page, PostContent(text="after revoke"), "ref-r")
    assert err.value.kind is ErrorKind.AUTH
    assert "Reconnect" in err.value.message
    # the user token expires after 60 days; exchanging it then is an auth error
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 61 * 24 * 3600})
    with pytest.raises(PlatformError) as err:
        await fb.request("GET", fb.graph("/me/accounts"), token=grant.tokens.access_token)
    assert err.value.kind is ErrorKind.AUTH


async def test_lost_answer_is_ambiguous_and_reconciles_to_one_post(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    fb: FacebookConnector = make_connector(FacebookConnector, read_timeout=0.5)
    auth = auth_for(await connect(fb))
    await set_faults(sandbox, "facebook", error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    content = PostContent(text="Did this go out?")
    started = datetime.now(UTC)
    with pytest.raises(PlatformError) as err:
        await fb.publish(auth, content, "ref-amb")
    assert err.value.kind is ErrorKind.AMBIGUOUS
    assert not err.value.retryable
    await set_faults(sandbox, "facebook")
    found = await fb.fetch_post_status(auth, PublishAttempt("ref-amb", content, started))
    assert found is not None
    counts = (await sandbox.get("/_sandbox/publish-counts/facebook")).json()["counts"]
    assert counts == {"ref-amb": 1}


async def test_reviews_page_through_and_replies_show(
    fb: FacebookConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(fb))
    first = await fb.fetch_reviews(auth, None)
    assert len(first.reviews) == 12
    assert first.next_cursor is None
    truth = (await sandbox.get(f"/_sandbox/reviews/facebook/{auth.external_id}")).json()["data"]
    assert {r.external_id for r in first.reviews} == {r["id"] for r in truth}
    by_id = {r["id"]: r for r in truth}
    for review in first.reviews:
        assert review.rating == by_id[review.external_id]["rating"]
        assert review.recommends == (review.rating is not None and review.rating >= 4)
        assert review.text
        assert review.author
    target = first.reviews[0]
    await fb.reply_to_review(auth, target.external_id, "Thanks for visiting!")
    again = {r.external_id: r for r in (await fb.fetch_reviews(auth, None)).reviews}
    assert again[target.external_id].reply_text == "Thanks for visiting!"
    with pytest.raises(PlatformError) as err:
        await fb.reply_to_review(auth, f"{auth.external_id}-r999", "Hello?")
    assert err.value.kind is ErrorKind.REJECTED


async def test_metrics_one_entry_per_day_with_the_sandbox_numbers(
    fb: FacebookConnector,
) -> None:
    auth = auth_for(await connect(fb))
    until = datetime.now(UTC).date() - timedelta(days=1)
    since = until - timedelta(days=6)
    days = await fb.fetch_metrics(auth, since, until)
    assert [d.day for d in days] == [since + timedelta(days=i) for i in range(7)]
    assert all(d.impressions is not None and d.reach is not None for d in days)
    assert all(d.reach <= d.impressions for d in days if d.reach and d.impressions)
    again = await fb.fetch_metrics(auth, since, until)
    assert again == days  # stable: a re-collection changes nothing


async def test_unreachable_platform_is_transient(make_connector: Make) -> None:
    from shared.crypto import Sealed
    from shared.platforms.types import AccountAuth, AppCredentials

    fb: FacebookConnector = make_connector(FacebookConnector)
    dead = FacebookConnector(
        AppCredentials("x", Sealed("y")), sandbox_url="http://127.0.0.1:9", http=fb.http
    )
    with pytest.raises(PlatformError) as err:
        await dead.publish(AccountAuth("1", Sealed("t")), PostContent(text="hi"), "ref-x")
    assert err.value.kind is ErrorKind.TRANSIENT  # nothing was sent: safe to retry


async def test_post_metrics_are_the_posts_lifetime_insights_growing_with_age(
    fb: FacebookConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(fb))
    post_id = (await fb.publish(auth, PostContent(text="Counted"), "pm-1")).external_id
    raw = await sandbox.get(
        f"/facebook/v21.0/{post_id}/insights",
        params={
            "metric": "post_impressions,post_impressions_unique,post_clicks,"
            "post_reactions_by_type_total"
        },
        headers={"Authorization": f"Bearer {auth.access_token.reveal()}"},
    )
    assert raw.status_code == 200, raw.text
    served = {s["name"]: s["values"][0]["value"] for s in raw.json()["data"]}
    found = await fb.fetch_post_metrics(auth, [post_id])
    got = found[post_id]
    reactions = served["post_reactions_by_type_total"]
    assert got.impressions == served["post_impressions"] > 0
    assert got.reach == served["post_impressions_unique"]
    assert got.clicks == served["post_clicks"]
    assert got.likes == reactions.get("like", 0)
    assert got.engagements == sum(reactions.values()) + served["post_clicks"]
    assert (got.comments, got.shares, got.views) == (None, None, None)
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 3 * 86_400})
    older = (await fb.fetch_post_metrics(auth, [post_id]))[post_id]
    assert older.impressions is not None
    assert older.impressions > got.impressions


async def test_post_metrics_leave_out_posts_gone_from_the_page(fb: FacebookConnector) -> None:
    auth = auth_for(await connect(fb))
    kept = (await fb.publish(auth, PostContent(text="Kept"), "pm-k")).external_id
    gone = (await fb.publish(auth, PostContent(text="Gone"), "pm-g")).external_id
    await fb.delete(auth, gone)
    found = await fb.fetch_post_metrics(auth, [kept, gone, f"{auth.external_id}_404"])
    assert set(found) == {kept}


async def test_post_metrics_outage_is_transient(
    fb: FacebookConnector, sandbox: httpx.AsyncClient
) -> None:
    auth = auth_for(await connect(fb))
    post_id = (await fb.publish(auth, PostContent(text="Outage"), "pm-o")).external_id
    await set_faults(sandbox, "facebook", error_rates={"server_error": 1.0})
    with pytest.raises(PlatformError) as err:
        await fb.fetch_post_metrics(auth, [post_id])
    assert err.value.kind is ErrorKind.TRANSIENT
