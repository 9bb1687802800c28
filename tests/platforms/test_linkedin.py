"""LinkedIn connector against the sandbox over HTTP: OAuth with non-rotating refresh tokens and
revocation, organization choices, posts (publish, find, reconcile, delete), share statistics,
the versioned-API headers, and every error kind each method can meet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from shared.crypto import Sealed
from shared.platforms.errors import ErrorKind, NotSupported, PlatformError
from shared.platforms.linkedin import (
    API_VERSION,
    LinkedInConnector,
    escape_little_text,
    seconds_to_utc_midnight,
    unescape_little_text,
)
from shared.platforms.types import AccountAuth, Media, PostContent, PublishAttempt, TokenSet
from tests.platforms.conftest import REDIRECT_URI, auth_for, connect, consent, set_faults

P = "linkedin"
DAY = 86_400
Make = Callable[..., Any]
HEADERS = {"LinkedIn-Version": API_VERSION, "X-Restli-Protocol-Version": "2.0.0"}


async def connected(make: Make, **kw: Any) -> tuple[LinkedInConnector, AccountAuth, TokenSet]:
    li: LinkedInConnector = make(LinkedInConnector, **kw)
    grant = await connect(li)
    return li, auth_for(grant), grant.tokens


async def advance(sandbox: httpx.AsyncClient, seconds: float) -> None:
    r = await sandbox.post("/_sandbox/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200


async def expect(kind: ErrorKind, call: Awaitable[Any]) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        await call
    assert caught.value.kind is kind, repr(caught.value)
    return caught.value


async def stored(sandbox: httpx.AsyncClient) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await sandbox.get(f"/_sandbox/posts/{P}")).json()["data"]
    return data


# --- OAuth ------------------------------------------------------------------------------------


async def test_consent_denied_redirects_with_linkedins_error(make_connector: Make) -> None:
    li = make_connector(LinkedInConnector)
    async with httpx.AsyncClient() as browser:
        r = await browser.get(li.authorize_url("st-1", REDIRECT_URI).url + "&sandbox_deny=1")
    assert r.status_code == 302
    back = parse_qs(urlsplit(r.headers["location"]).query)
    assert back["error"] == ["user_cancelled_authorize"]
    assert back["state"] == ["st-1"]
    assert "code" not in back


async def test_exchange_lists_the_administered_organizations(make_connector: Make) -> None:
    li = make_connector(LinkedInConnector)
    request = li.authorize_url("st-1", REDIRECT_URI)
    assert request.code_verifier is None
    assert parse_qs(urlsplit(request.url).query)["scope"] == [" ".join(li.scopes)]
    grant = await connect(li)
    tokens = grant.tokens
    assert tokens.expires_at is not None
    assert tokens.refresh_token is not None
    assert tokens.refresh_expires_at is not None
    now = datetime.now(UTC)
    assert timedelta(days=59) < tokens.expires_at - now <= timedelta(days=60)
    assert timedelta(days=364) < tokens.refresh_expires_at - now <= timedelta(days=365)
    assert "w_organization_social" in tokens.scopes
    assert len(grant.choices) == 2
    for choice in grant.choices:
        assert choice.external_id.startswith("urn:li:organization:")
        assert choice.name.startswith("Sandbox Pizzeria")
        assert choice.username
        assert choice.kind == "organization"
    assert "AQ" not in repr(grant)


async def test_exchange_refuses_a_used_code(make_connector: Make) -> None:
    li = make_connector(LinkedInConnector)
    code, _ = await consent(li)
    await li.exchange_code(code, REDIRECT_URI, None)
    err = await expect(ErrorKind.REJECTED, li.exchange_code(code, REDIRECT_URI, None))
    assert "authorization code" in (err.detail or "")


async def test_refresh_keeps_the_same_refresh_token_and_its_expiry(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, auth, tokens = await connected(make_connector)
    await advance(sandbox, 50 * DAY)
    refreshed = await li.refresh_token(tokens)
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token == tokens.refresh_token
    assert refreshed.refresh_expires_at is not None
    assert tokens.refresh_expires_at is not None
    # Not extended: 50 days of the 365 are gone.
    assert refreshed.refresh_expires_at < tokens.refresh_expires_at - timedelta(days=49)
    await advance(sandbox, 20 * DAY)  # the first access token has expired by now
    await expect(ErrorKind.AUTH, li.fetch_metrics(auth, *[datetime.now(UTC).date()] * 2))
    fresh = AccountAuth(auth.external_id, refreshed.access_token)
    assert await li.fetch_metrics(fresh, *[datetime.now(UTC).date()] * 2)
    again = await li.refresh_token(refreshed)
    assert again.refresh_token == tokens.refresh_token


async def test_refresh_after_the_refresh_token_expired_needs_the_user(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, _, tokens = await connected(make_connector)
    await advance(sandbox, 366 * DAY)
    err = await expect(ErrorKind.AUTH, li.refresh_token(tokens))
    assert "expired" in (err.detail or "")
    no_refresh = TokenSet(tokens.access_token)
    await expect(ErrorKind.AUTH, li.refresh_token(no_refresh))


async def test_revoke_ends_access(make_connector: Make) -> None:
    li, auth, tokens = await connected(make_connector)
    assert await li.revoke(auth) is True
    err = await expect(ErrorKind.AUTH, li.publish(auth, PostContent("After revoke"), "ref-r"))
    assert err.code == "REVOKED_ACCESS_TOKEN"
    await expect(ErrorKind.AUTH, li.refresh_token(tokens))


# --- Publishing -------------------------------------------------------------------------------


async def test_publish_text_and_find_it(make_connector: Make, sandbox: httpx.AsyncClient) -> None:
    li, auth, _ = await connected(make_connector)
    started = datetime.now(UTC)
    text = "Two-for-one (today only) #pizza #friday: *best* deal_ever ~ [menu] <3 @home"
    done = await li.publish(auth, PostContent(text), "ref-1")
    assert done.external_id.startswith("urn:li:share:")
    assert done.permalink == f"https://www.linkedin.com/feed/update/{done.external_id}/"
    (post,) = await stored(sandbox)
    assert post["client_ref"] == "ref-1"
    assert post["account_id"] == auth.external_id.rpartition(":")[2]
    # Sent in little text format: nothing left unescaped to truncate the post.
    assert "\\(today only\\)" in post["text"]
    assert "{hashtag|\\#|pizza}" in post["text"]
    assert unescape_little_text(post["text"]) == text
    by_id = PublishAttempt("ref-1", PostContent(text), started, external_id=done.external_id)
    found = await li.fetch_post_status(auth, by_id)
    assert found is not None
    assert found.external_id == done.external_id
    assert found.published_at is not None
    by_text = await li.fetch_post_status(auth, PublishAttempt("ref-1", PostContent(text), started))
    assert by_text == found


async def test_publish_an_article_link(make_connector: Make, sandbox: httpx.AsyncClient) -> None:
    li, auth, _ = await connected(make_connector)
    content = PostContent("Our new menu", title="Menu", link="https://pizza.example/menu")
    await li.publish(auth, content, "ref-a")
    (post,) = await stored(sandbox)
    assert post["link"] == "https://pizza.example/menu"


async def test_publish_as_an_organization_not_administered_is_auth(
    make_connector: Make,
) -> None:
    li, auth, _ = await connected(make_connector)
    other = AccountAuth("urn:li:organization:1337", auth.access_token)
    err = await expect(ErrorKind.AUTH, li.publish(other, PostContent("Not mine"), "ref-x"))
    assert err.code == "ACCESS_DENIED"


async def test_missing_posting_scope_is_auth(make_connector: Make) -> None:
    li = make_connector(LinkedInConnector)
    url = li.authorize_url("st-1", REDIRECT_URI).url.replace("w_organization_social", "")
    async with httpx.AsyncClient() as browser:
        r = await browser.get(url)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    grant = await li.exchange_code(code, REDIRECT_URI, None)
    err = await expect(ErrorKind.AUTH, li.publish(auth_for(grant), PostContent("x"), "ref-s"))
    assert err.status == 403


async def test_publish_rejections(make_connector: Make, sandbox: httpx.AsyncClient) -> None:
    li, auth, _ = await connected(make_connector)
    err = await expect(ErrorKind.REJECTED, li.publish(auth, PostContent("x" * 3001), "ref-long"))
    assert "3000" in err.message
    await li.publish(auth, PostContent("x" * 3000), "ref-3000")
    # The limit is on the text as shown: escapes don't count against it.
    await li.publish(auth, PostContent("(x) " * 749 + "(y)"), "ref-escaped-3000")
    await li.publish(auth, PostContent("Same words"), "ref-d1")
    err = await expect(ErrorKind.REJECTED, li.publish(auth, PostContent("Same words"), "ref-d2"))
    assert "Content is a duplicate" in err.message
    with pytest.raises(NotSupported):
        await li.publish(auth, PostContent("pic", media=(Media("https://a.example/p.jpg"),)), "m")
    refs = [p["client_ref"] for p in await stored(sandbox)]
    assert refs == ["ref-3000", "ref-escaped-3000", "ref-d1"]


async def test_publish_ambiguous_then_reconciled_exactly_once(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, auth, _ = await connected(make_connector, read_timeout=0.5)
    started = datetime.now(UTC)
    content = PostContent("Held (answer) #late")
    await set_faults(sandbox, P, error_rates={"accept_then_timeout": 1.0}, hold_s=5)
    err = await expect(ErrorKind.AMBIGUOUS, li.publish(auth, content, "ref-amb"))
    assert "did not answer" in err.message
    await set_faults(sandbox, P)
    found = await li.fetch_post_status(auth, PublishAttempt("ref-amb", content, started))
    assert found is not None
    assert [p["id"] for p in await stored(sandbox)] == [found.external_id]
    counts = (await sandbox.get(f"/_sandbox/publish-counts/{P}")).json()["counts"]
    assert counts == {"ref-amb": 1}


async def test_reconcile_pages_back_and_misses_what_is_not_there(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, auth, _ = await connected(make_connector)
    started = datetime.now(UTC)
    first = await li.publish(auth, PostContent("The very first"), "ref-0")
    for i in range(60):
        await li.publish(auth, PostContent(f"Filler {i}"), f"ref-f{i}")
    found = await li.fetch_post_status(
        auth, PublishAttempt("r", PostContent("The very first"), started)
    )
    assert found is not None
    assert found.external_id == first.external_id
    missing = PublishAttempt("r", PostContent("Never sent"), started)
    assert await li.fetch_post_status(auth, missing) is None


async def test_delete_then_status_is_none(make_connector: Make, sandbox: httpx.AsyncClient) -> None:
    li, auth, _ = await connected(make_connector)
    done = await li.publish(auth, PostContent("Short-lived"), "ref-del")
    await li.delete(auth, done.external_id)
    (post,) = await stored(sandbox)
    assert post["deleted"] is True
    attempt = PublishAttempt(
        "ref-del", PostContent("Short-lived"), datetime.now(UTC), done.external_id
    )
    assert await li.fetch_post_status(auth, attempt) is None
    await li.delete(auth, done.external_id)  # already gone: nothing to do


async def test_exhausting_the_daily_member_limit_waits_until_midnight_utc(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, auth, _ = await connected(make_connector)
    for i in range(150):
        await li.publish(auth, PostContent(f"Daily special {i}"), f"ref-{i}")
    err = await expect(ErrorKind.RATE_LIMITED, li.publish(auth, PostContent("151st"), "ref-151"))
    assert "MEMBER DAY" in (err.detail or "")
    assert err.retry_after is not None
    assert abs(err.retry_after - seconds_to_utc_midnight()) < 5
    assert len(await stored(sandbox)) == 150
    await advance(sandbox, seconds_to_utc_midnight() + 1)
    await li.publish(auth, PostContent("A new day"), "ref-next")


# --- Metrics ----------------------------------------------------------------------------------


async def test_metrics_one_entry_per_day(make_connector: Make) -> None:
    li, auth, _ = await connected(make_connector)
    today = datetime.now(UTC).date()
    since = today - timedelta(days=10)
    days = await li.fetch_metrics(auth, since, today)
    assert [d.day for d in days] == [since + timedelta(days=i) for i in range(11)]
    past = days[:-1]
    for d in past:
        assert d.impressions is not None
        assert d.reach is not None
        assert d.reach <= d.impressions
        assert d.engagements is not None
        assert d.clicks is not None
        assert d.followers is None
    assert days[-1].followers is not None
    assert days[-1].followers > 300
    assert days[-1].impressions is None  # today isn't over
    assert await li.fetch_metrics(auth, since, today) == days


# --- The versioned API's headers --------------------------------------------------------------


async def test_rest_calls_need_the_version_headers(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    _, auth, tokens = await connected(make_connector)
    bearer = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
    url = f"/{P}/rest/networkSizes/{quote(auth.external_id, safe='')}"
    params = {"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"}
    r = await sandbox.get(url, params=params, headers=bearer)
    assert r.status_code == 400
    assert r.json()["code"] == "VERSION_MISSING"
    r = await sandbox.get(
        url, params=params, headers={**bearer, **HEADERS, "LinkedIn-Version": "202001"}
    )
    assert r.status_code == 426
    assert r.json() == {
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": "Requested version 202001 is not active",
    }
    no_restli = {**bearer, "LinkedIn-Version": API_VERSION}
    assert (await sandbox.get(url, params=params, headers=no_restli)).status_code == 400
    r = await sandbox.get(url, params=params, headers={**bearer, **HEADERS})
    assert r.status_code == 200
    assert isinstance(r.json()["firstDegreeSize"], int)


def test_little_text_round_trip() -> None:
    text = "Mix #tags, (parens), [brackets], {braces}, <angles>, @at, \\slash, *_~|"
    escaped = escape_little_text(text)
    assert "{hashtag|\\#|tags}" in escaped
    assert "\\(parens\\)" in escaped
    assert unescape_little_text(escaped) == text
    assert escape_little_text("Table #1") == "Table \\#1"


# --- Every error kind, every method ---------------------------------------------------------


async def _call(method: str, li: LinkedInConnector, auth: AccountAuth, tokens: TokenSet) -> Any:
    today = datetime.now(UTC).date()
    if method == "publish":
        return await li.publish(auth, PostContent(f"Faulty {datetime.now(UTC)}"), "ref-f")
    if method == "delete":
        return await li.delete(auth, "urn:li:share:1")
    if method == "fetch_post_status":
        return await li.fetch_post_status(
            auth, PublishAttempt("r", PostContent("x"), datetime.now(UTC))
        )
    if method == "fetch_metrics":
        return await li.fetch_metrics(auth, today - timedelta(days=3), today)
    if method == "refresh_token":
        return await li.refresh_token(tokens)
    if method == "revoke":
        return await li.revoke(auth)
    raise AssertionError(method)


REST_METHODS = ("publish", "delete", "fetch_post_status", "fetch_metrics")


@pytest.mark.parametrize("method", REST_METHODS)
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
    li, auth, tokens = await connected(make_connector)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    err = await expect(kind, _call(method, li, auth, tokens))
    if kind is ErrorKind.RATE_LIMITED:
        assert err.retry_after is not None
        assert abs(err.retry_after - seconds_to_utc_midnight()) < 5
    if kind is ErrorKind.AUTH:
        assert err.code == "REVOKED_ACCESS_TOKEN"
    assert tokens.access_token.reveal() not in repr(err) + err.message + (err.detail or "")


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_refresh_faults_are_classified(
    make_connector: Make, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    li, _, tokens = await connected(make_connector)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    await expect(kind, li.refresh_token(tokens))


async def test_exchange_faults_are_classified(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li = make_connector(LinkedInConnector)
    for fault, kind in (
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
    ):
        code, _ = await consent(li)
        await set_faults(sandbox, P, error_rates={fault: 1.0})
        await expect(kind, li.exchange_code(code, REDIRECT_URI, None))
        await set_faults(sandbox, P)


@pytest.mark.parametrize("method", REST_METHODS)
async def test_expired_token_is_auth(
    make_connector: Make, sandbox: httpx.AsyncClient, method: str
) -> None:
    li, auth, tokens = await connected(make_connector)
    await advance(sandbox, 60 * DAY + 1)
    err = await expect(ErrorKind.AUTH, _call(method, li, auth, tokens))
    assert err.code == "EXPIRED_ACCESS_TOKEN"


async def test_a_made_up_token_is_auth(make_connector: Make) -> None:
    li = make_connector(LinkedInConnector)
    auth = AccountAuth("urn:li:organization:1", Sealed("not-a-token"))
    err = await expect(ErrorKind.AUTH, li.publish(auth, PostContent("x"), "ref-z"))
    assert err.code == "INVALID_ACCESS_TOKEN"
