"""LinkedIn connector against the sandbox over HTTP: OAuth with non-rotating refresh tokens and
revocation, organization choices, posts (publish, find, reconcile, delete), share statistics,
the versioned-API headers, and every error kind each method can meet."""

from __future__ import annotations

from collections.abc import Callable
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
from tests.platforms.conftest import (
    REDIRECT_URI,
    auth_for,
    connect,
    consent,
    expect,
    set_faults,
)

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
    with pytest.raises(NotSupported) as unsupported:
        await li.publish(
            auth, PostContent("v", media=(Media("https://a.example/v.mp4", "video"),)), "m"
        )
    assert "video" in unsupported.value.message
    refs = [p["client_ref"] for p in await stored(sandbox)]
    assert refs == ["ref-3000", "ref-escaped-3000", "ref-d1"]


# --- Images -----------------------------------------------------------------------------------


def _image(sandbox: httpx.AsyncClient, name: str = "a.png", alt: str | None = None) -> Media:
    """A customer's image the SSRF guard lets through: the X sandbox serves a PNG."""
    return Media(f"{str(sandbox.base_url).rstrip('/')}/x/_sandbox/media/{name}", alt_text=alt)


async def _counts(sandbox: httpx.AsyncClient) -> dict[str, int]:
    counts: dict[str, int] = (await sandbox.get(f"/_sandbox/publish-counts/{P}")).json()["counts"]
    return counts


async def _rest_post(sandbox: httpx.AsyncClient, tokens: TokenSet, urn: str) -> dict[str, Any]:
    r = await sandbox.get(
        f"/{P}/rest/posts/{quote(urn, safe='')}",
        headers={**HEADERS, "Authorization": f"Bearer {tokens.access_token.reveal()}"},
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_publish_one_image(make_connector: Make, sandbox: httpx.AsyncClient) -> None:
    li, auth, tokens = await connected(make_connector)
    started = datetime.now(UTC)
    content = PostContent(
        "Fresh (hot) from the oven",
        link="https://pizza.example/menu",
        media=(_image(sandbox, alt="A margherita"),),
    )
    done = await li.publish(auth, content, "ref-img")
    (post,) = await stored(sandbox)
    (urn,) = post["media"]
    assert urn.startswith("urn:li:image:")
    assert post["link"] is None  # one kind of content: the link went into the commentary
    assert (
        unescape_little_text(post["text"])
        == "Fresh (hot) from the oven\nhttps://pizza.example/menu"
    )
    shown = await _rest_post(sandbox, tokens, done.external_id)
    assert shown["content"] == {"media": {"id": urn, "altText": "A margherita"}}
    found = await li.fetch_post_status(auth, PublishAttempt("ref-img", content, started))
    assert found is not None
    assert found.external_id == done.external_id
    assert await _counts(sandbox) == {"ref-img": 1}


async def test_publish_several_images(make_connector: Make, sandbox: httpx.AsyncClient) -> None:
    li, auth, tokens = await connected(make_connector)
    media = (_image(sandbox, "a.png", "Crust"), _image(sandbox, "b.png"), _image(sandbox, "c.png"))
    done = await li.publish(auth, PostContent("Three pizzas", media=media), "ref-multi")
    (post,) = await stored(sandbox)
    assert len(post["media"]) == 3
    assert len(set(post["media"])) == 3
    shown = await _rest_post(sandbox, tokens, done.external_id)
    assert shown["content"] == {
        "multiImage": {
            "images": [
                {"id": post["media"][0], "altText": "Crust"},
                {"id": post["media"][1]},
                {"id": post["media"][2]},
            ]
        }
    }
    too_many = PostContent("Too many", media=tuple(_image(sandbox) for _ in range(21)))
    err = await expect(ErrorKind.REJECTED, li.publish(auth, too_many, "ref-21"))
    assert "at most 20 images" in err.message
    assert await _counts(sandbox) == {"ref-multi": 1}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/x.png", "link-local"),
        ("http://10.1.2.3/a.png", "private address"),
        ("file:///etc/passwd", "scheme"),
    ],
)
async def test_media_url_the_ssrf_guard_refuses_is_rejected(
    make_connector: Make, sandbox: httpx.AsyncClient, url: str, reason: str
) -> None:
    li, auth, _ = await connected(make_connector)
    # A good image first: uploads happen, but nothing is posted.
    content = PostContent("Sneaky", media=(_image(sandbox), Media(url)))
    err = await expect(ErrorKind.REJECTED, li.publish(auth, content, "ref-ssrf"))
    assert reason in err.message
    assert "image address" in err.message
    assert err.code == "media_url"
    assert await _counts(sandbox) == {}
    assert await stored(sandbox) == []


async def test_media_url_answering_404_is_rejected(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, auth, _ = await connected(make_connector)
    missing = Media(f"{str(sandbox.base_url).rstrip('/')}/nowhere.png")
    err = await expect(
        ErrorKind.REJECTED, li.publish(auth, PostContent("Gone", media=(missing,)), "r")
    )
    assert "404" in err.message
    not_an_image = Media(f"{str(sandbox.base_url).rstrip('/')}/_sandbox/posts/{P}")
    err = await expect(
        ErrorKind.REJECTED, li.publish(auth, PostContent("JSON", media=(not_an_image,)), "r")
    )
    assert "JPG, PNG or GIF" in err.message
    assert await _counts(sandbox) == {}


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("server_error", ErrorKind.TRANSIENT),
        ("rate_limited", ErrorKind.RATE_LIMITED),
        ("auth_revoked", ErrorKind.AUTH),
    ],
)
async def test_image_upload_faults_are_classified(
    make_connector: Make, sandbox: httpx.AsyncClient, fault: str, kind: ErrorKind
) -> None:
    li, auth, _ = await connected(make_connector)
    await set_faults(sandbox, P, error_rates={fault: 1.0})
    content = PostContent("Faulty upload", media=(_image(sandbox),))
    await expect(kind, li.publish(auth, content, "ref-upload"))
    await set_faults(sandbox, P)
    assert await _counts(sandbox) == {}
    if kind is ErrorKind.RATE_LIMITED:
        await advance(sandbox, seconds_to_utc_midnight() + 1)  # the day's limit was spent
    await li.publish(auth, content, "ref-upload")  # nothing was posted: a retry is safe
    assert await _counts(sandbox) == {"ref-upload": 1}


async def test_a_server_error_on_the_image_put_is_transient(
    make_connector: Make, sandbox: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    li, auth, _ = await connected(make_connector)
    sent: list[tuple[str, int | None]] = []
    original = li.request

    async def spy(method: str, url: str, **kw: Any) -> Any:
        try:
            answer = await original(method, url, **kw)
        except PlatformError as exc:
            sent.append((method, exc.status))
            raise
        sent.append((method, answer.status))
        return answer

    monkeypatch.setattr(li, "request", spy)
    # Seed 15 rolls 0.965 then 0.012: initializeUpload passes, the PUT gets the 500.
    await set_faults(sandbox, P, error_rates={"server_error": 0.5}, seed=15)
    content = PostContent("Upload breaks", media=(_image(sandbox),))
    err = await expect(ErrorKind.TRANSIENT, li.publish(auth, content, "ref-put"))
    assert err.status == 500
    assert sent == [("POST", 200), ("PUT", 500)]
    assert await _counts(sandbox) == {}


async def test_sandbox_image_upload_contract(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    _, auth, tokens = await connected(make_connector)
    bearer = {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
    init_url = f"/{P}/rest/images?action=initializeUpload"
    init = {"initializeUploadRequest": {"owner": auth.external_id}}
    r = await sandbox.post(init_url, json=init, headers=bearer)
    assert r.json()["code"] == "VERSION_MISSING"
    other = {"initializeUploadRequest": {"owner": "urn:li:organization:1337"}}
    r = await sandbox.post(init_url, json=other, headers={**bearer, **HEADERS})
    assert r.status_code == 403
    assert r.json()["code"] == "ACCESS_DENIED"
    r = await sandbox.post(init_url, json=init, headers={**bearer, **HEADERS})
    assert r.status_code == 200, r.text
    value = r.json()["value"]
    assert set(value) == {"uploadUrlExpiresAt", "uploadUrl", "image"}
    assert value["image"].startswith("urn:li:image:")
    assert value["uploadUrl"].startswith(f"{str(sandbox.base_url).rstrip('/')}/{P}/")
    png = (await sandbox.get("/x/_sandbox/media/a.png")).content

    def post_body(urn: str) -> dict[str, Any]:
        return {
            "author": auth.external_id,
            "commentary": f"With {urn}",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
            "content": {"media": {"id": urn}},
        }

    async def create(urn: str) -> httpx.Response:
        return await sandbox.post(
            f"/{P}/rest/posts", json=post_body(urn), headers={**bearer, **HEADERS}
        )

    # Not uploaded yet, and unknown: refused in LinkedIn's error shape.
    r = await create(value["image"])
    assert r.status_code == 422
    assert r.json()["errorDetailType"] == "com.linkedin.common.error.BadRequest"
    assert "WAITING_UPLOAD" in r.json()["message"]
    r = await create("urn:li:image:D4E10AQnope")
    assert r.status_code == 422
    assert "does not exist" in r.json()["message"]
    upload = value["uploadUrl"]
    async with httpx.AsyncClient(timeout=30) as raw:
        r = await raw.put(upload, content=b"", headers={**bearer, "Content-Type": "image/png"})
        assert r.status_code == 400
        r = await raw.put(upload, content=png, headers={**bearer, "Content-Type": "text/plain"})
        assert r.status_code == 400
        r = await raw.put(
            upload, content=b"not a png", headers={**bearer, "Content-Type": "image/png"}
        )
        assert r.status_code == 400
        big = png + b"\x00" * (20 * 1024 * 1024)
        r = await raw.put(upload, content=big, headers={**bearer, "Content-Type": "image/png"})
        assert r.status_code == 413
        r = await raw.put(upload, content=png, headers={"Content-Type": "image/png"})
        assert r.status_code == 401
        r = await raw.put(upload, content=png, headers={**bearer, "Content-Type": "image/png"})
        assert r.status_code == 201
    r = await create(value["image"])
    assert r.status_code == 201, r.text
    assert await _counts(sandbox) == {}  # created without Chorus's reference header
    assert [p["media"] for p in await stored(sandbox)] == [[value["image"]]]


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


async def test_post_metrics_are_each_posts_lifetime_share_statistics(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, auth, tokens = await connected(make_connector)
    urns = [
        (await li.publish(auth, PostContent(f"Counted {i}"), f"pm-{i}")).external_id
        for i in range(2)
    ]
    raw = await sandbox.get(
        f"/{P}/rest/organizationalEntityShareStatistics",
        params={
            "q": "organizationalEntity",
            "organizationalEntity": auth.external_id,
            "shares": f"List({','.join(quote(u, safe='') for u in urns)})",
        },
        headers={**HEADERS, "Authorization": f"Bearer {tokens.access_token.reveal()}"},
    )
    assert raw.status_code == 200, raw.text
    served = {e["share"]: e["totalShareStatistics"] for e in raw.json()["elements"]}
    assert set(served) == set(urns)
    found = await li.fetch_post_metrics(auth, urns)
    for urn, stats in served.items():
        got = found[urn]
        assert got.impressions == stats["impressionCount"] > 0
        assert got.reach == stats["uniqueImpressionsCount"]
        assert got.clicks == stats["clickCount"]
        assert (got.likes, got.comments, got.shares) == (
            stats["likeCount"],
            stats["commentCount"],
            stats["shareCount"],
        )
        assert got.engagements == stats["likeCount"] + stats["commentCount"] + stats["shareCount"]
        assert got.views is None
    await advance(sandbox, 3 * DAY)
    later = await li.fetch_post_metrics(auth, urns)
    assert all((later[u].impressions or 0) > (found[u].impressions or 0) for u in urns)


async def test_post_metrics_leave_out_deleted_posts(make_connector: Make) -> None:
    li, auth, _ = await connected(make_connector)
    kept = (await li.publish(auth, PostContent("Kept"), "pm-k")).external_id
    gone = (await li.publish(auth, PostContent("Gone"), "pm-g")).external_id
    await li.delete(auth, gone)
    found = await li.fetch_post_metrics(auth, [kept, gone, "urn:li:ugcPost:1", "not-a-urn"])
    assert set(found) == {kept}


async def test_post_metrics_with_a_revoked_token_are_auth(
    make_connector: Make, sandbox: httpx.AsyncClient
) -> None:
    li, auth, _ = await connected(make_connector)
    kept = (await li.publish(auth, PostContent("Auth"), "pm-a")).external_id
    await set_faults(sandbox, P, error_rates={"auth_revoked": 1.0})
    await expect(ErrorKind.AUTH, li.fetch_post_metrics(auth, [kept]))
