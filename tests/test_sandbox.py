"""The platform sandbox over HTTP (ASGI): OAuth, publishing, limits, rate windows, faults."""

import asyncio
import base64
import hashlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.sandbox.app import create_app
from services.sandbox.config import SandboxConfig, Window
from shared.platforms.registry import PLATFORM_NAMES
from tests.support.clock import advance_sandbox
from tests.support.publish_worker import wait_for

FB = "/facebook/v21.0"
X = "/x"
REDIRECT = "https://chorus.test/callback"
REF = "X-Chorus-Client-Ref"


def _client(config: SandboxConfig | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(config))
    return httpx.AsyncClient(transport=transport, base_url="http://sandbox.test")


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    async with _client() as c:
        yield c


def _redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# --- Facebook helpers --------------------------------------------------------------------------


async def fb_user_token(c: httpx.AsyncClient) -> str:
    dialog = await c.get(
        f"{FB}/dialog/oauth",
        params={"client_id": "app1", "redirect_uri": REDIRECT, "state": "s1", "scope": "pages"},
    )
    back = _redirect_params(dialog)
    assert back["state"] == "s1"
    r = await c.get(
        f"{FB}/oauth/access_token",
        params={
            "client_id": "app1",
            "client_secret": "shh",
            "redirect_uri": REDIRECT,
            "code": back["code"],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60 * 24 * 3600
    token: str = body["access_token"]
    return token


async def fb_page(c: httpx.AsyncClient) -> tuple[str, str]:
    """(page id, page token) of a freshly connected user's first page."""
    user = await fb_user_token(c)
    r = await c.get(f"{FB}/me/accounts", headers={"Authorization": f"Bearer {user}"})
    assert r.status_code == 200, r.text
    page = r.json()["data"][0]
    return page["id"], page["access_token"]


async def fb_publish(
    c: httpx.AsyncClient, page: tuple[str, str], message: str = "Hello", ref: str = "ref-1"
) -> httpx.Response:
    page_id, token = page
    return await c.post(
        f"{FB}/{page_id}/feed",
        data={"message": message},
        headers={"Authorization": f"Bearer {token}", REF: ref},
    )


def fb_error(r: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = r.json()["error"]
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"]
    return error


# --- X helpers ----------------------------------------------------------------------------------


def _challenge(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


async def x_code(
    c: httpx.AsyncClient, verifier: str, scope: str = "tweet.write offline.access"
) -> str:
    r = await c.get(
        f"{X}/i/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "xapp",
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "st",
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        },
    )
    back = _redirect_params(r)
    assert back["state"] == "st"
    return back["code"]


async def x_exchange(c: httpx.AsyncClient, code: str, verifier: str) -> httpx.Response:
    return await c.post(
        f"{X}/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": "xapp",
        },
    )


async def x_tokens(c: httpx.AsyncClient) -> dict[str, Any]:
    verifier = "v" * 50
    r = await x_exchange(c, await x_code(c, verifier), verifier)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def bearer(token: str, ref: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if ref:
        headers[REF] = ref
    return headers


_x_texts = itertools.count(1)


async def x_publish(
    c: httpx.AsyncClient, token: str, text: str | None = None, ref: str = "ref-1"
) -> httpx.Response:
    """A post; by default each with its own text (X refuses duplicate content)."""
    body = {"text": text if text is not None else f"Hi #{next(_x_texts)}"}
    return await c.post(f"{X}/2/tweets", json=body, headers=bearer(token, ref))


def x_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert {"title", "detail", "type", "status"} <= body.keys()
    assert body["status"] == status
    return body


# --- Facebook -----------------------------------------------------------------------------------


async def test_facebook_oauth_gives_pages_with_tokens(sandbox: httpx.AsyncClient) -> None:
    user = await fb_user_token(sandbox)
    me = await sandbox.get(f"{FB}/me", params={"access_token": user})
    assert me.status_code == 200
    r = await sandbox.get(f"{FB}/me/accounts", params={"access_token": user})
    pages = r.json()["data"]
    assert len(pages) == 2
    assert all(p["access_token"] and "CREATE_CONTENT" in p["tasks"] for p in pages)
    again = await sandbox.get(f"{FB}/me/accounts", params={"access_token": user})
    assert [p["access_token"] for p in again.json()["data"]] == [p["access_token"] for p in pages]


async def test_facebook_code_is_single_use_and_bound_to_redirect(
    sandbox: httpx.AsyncClient,
) -> None:
    dialog = await sandbox.get(
        f"{FB}/dialog/oauth", params={"client_id": "a", "redirect_uri": REDIRECT}
    )
    code = _redirect_params(dialog)["code"]
    params = {"client_id": "a", "client_secret": "s", "code": code}
    wrong = await sandbox.get(
        f"{FB}/oauth/access_token", params={**params, "redirect_uri": REDIRECT + "x"}
    )
    assert fb_error(wrong)["error_subcode"] == 36008
    reused = await sandbox.get(
        f"{FB}/oauth/access_token", params={**params, "redirect_uri": REDIRECT}
    )
    assert reused.status_code == 400
    assert fb_error(reused)["code"] == 100


async def test_facebook_dialog_can_refuse(sandbox: httpx.AsyncClient) -> None:
    r = await sandbox.get(
        f"{FB}/dialog/oauth",
        params={"client_id": "a", "redirect_uri": REDIRECT, "state": "s", "sandbox_deny": "1"},
    )
    back = _redirect_params(r)
    assert back["error"] == "access_denied"
    assert "code" not in back


async def test_facebook_publish_fetch_delete(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    page_id, token = page
    r = await fb_publish(sandbox, page, "Fresh pizza")
    assert r.status_code == 200, r.text
    post_id = r.json()["id"]
    assert post_id.startswith(f"{page_id}_")
    assert "X-App-Usage" in r.headers
    buc = json.loads(r.headers["X-Business-Use-Case-Usage"])
    assert buc[page_id][0]["type"] == "pages"

    got = await sandbox.get(f"{FB}/{post_id}", params={"access_token": token})
    assert got.json()["message"] == "Fresh pizza"
    assert got.json()["permalink_url"].startswith("https://www.facebook.com/")
    only = await sandbox.get(f"{FB}/{post_id}", params={"access_token": token, "fields": "message"})
    assert set(only.json()) == {"id", "message"}

    deleted = await sandbox.delete(f"{FB}/{post_id}", params={"access_token": token})
    assert deleted.json() == {"success": True}
    gone = await sandbox.get(f"{FB}/{post_id}", params={"access_token": token})
    assert gone.status_code == 400
    assert fb_error(gone)["error_subcode"] == 33

    listed = (await sandbox.get("/_sandbox/posts/facebook")).json()["data"]
    assert [(p["id"], p["deleted"], p["client_ref"]) for p in listed] == [(post_id, True, "ref-1")]


async def test_facebook_user_token_cannot_post_to_page(sandbox: httpx.AsyncClient) -> None:
    user = await fb_user_token(sandbox)
    pages = (await sandbox.get(f"{FB}/me/accounts", params={"access_token": user})).json()
    r = await fb_publish(sandbox, (pages["data"][0]["id"], user))
    assert r.status_code == 403
    assert fb_error(r)["code"] == 200


async def test_facebook_message_length_limit(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    assert (await fb_publish(sandbox, page, "a" * 63_206)).status_code == 200
    r = await fb_publish(sandbox, page, "a" * 63_207)
    assert r.status_code == 400
    assert fb_error(r)["code"] == 100
    assert "63206" in fb_error(r)["message"]


async def test_facebook_expired_and_revoked_tokens(sandbox: httpx.AsyncClient) -> None:
    user = await fb_user_token(sandbox)
    other = await fb_user_token(sandbox)
    missing = await sandbox.get(f"{FB}/me")
    assert fb_error(missing)["code"] == 104
    bogus = await sandbox.get(f"{FB}/me", params={"access_token": "nope"})
    assert fb_error(bogus)["code"] == 190

    revoked = await sandbox.post("/_sandbox/tokens/facebook/revoke", json={"token": other})
    assert revoked.status_code == 200
    r = await sandbox.get(f"{FB}/me", params={"access_token": other})
    assert (fb_error(r)["code"], fb_error(r)["error_subcode"]) == (190, 460)

    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 61 * 24 * 3600})
    r = await sandbox.get(f"{FB}/me", headers=bearer(user))
    assert r.status_code == 400
    assert (fb_error(r)["code"], fb_error(r)["error_subcode"]) == (190, 463)


async def test_facebook_page_window_spent_answers_code_32() -> None:
    config = SandboxConfig(facebook_page_window=Window(2, 3600))
    async with _client(config) as c:
        user = await fb_user_token(c)
        pages = (await c.get(f"{FB}/me/accounts", params={"access_token": user})).json()["data"]
        page = (pages[0]["id"], pages[0]["access_token"])
        assert (await fb_publish(c, page)).status_code == 200
        assert (await fb_publish(c, page)).status_code == 200
        r = await fb_publish(c, page)
        assert r.status_code == 429
        assert fb_error(r)["code"] == 32
        usage = json.loads(r.headers["X-Business-Use-Case-Usage"])[page[0]][0]
        assert usage["call_count"] == 100
        assert 60 <= usage["estimated_time_to_regain_access"] <= 61
        assert json.loads(r.headers["X-App-Usage"])["call_count"] == 100


# --- X ------------------------------------------------------------------------------------------


async def test_x_pkce_flow_and_users_me(sandbox: httpx.AsyncClient) -> None:
    tokens = await x_tokens(sandbox)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 7200
    assert tokens["refresh_token"]
    r = await sandbox.get(f"{X}/2/users/me", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200
    assert r.json()["data"]["username"].startswith("sandbox_user_")
    assert int(r.headers["x-rate-limit-limit"]) == 75


async def test_x_pkce_mismatch_refused(sandbox: httpx.AsyncClient) -> None:
    code = await x_code(sandbox, "right-verifier-" * 3)
    r = await x_exchange(sandbox, code, "wrong-verifier-" * 3)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    again = await x_exchange(sandbox, code, "right-verifier-" * 3)
    assert again.status_code == 400  # the code was spent by the failed attempt


async def test_x_no_refresh_token_without_offline_access(sandbox: httpx.AsyncClient) -> None:
    verifier = "w" * 43
    r = await x_exchange(sandbox, await x_code(sandbox, verifier, "tweet.write"), verifier)
    assert r.status_code == 200
    assert "refresh_token" not in r.json()


async def test_x_refresh_rotates_tokens(sandbox: httpx.AsyncClient) -> None:
    first = await x_tokens(sandbox)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": "xapp",
    }
    r = await sandbox.post(f"{X}/2/oauth2/token", data=form)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    reused = await sandbox.post(f"{X}/2/oauth2/token", data=form)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_request"
    me = await sandbox.get(f"{X}/2/users/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200


async def test_x_expired_and_revoked_tokens(sandbox: httpx.AsyncClient) -> None:
    tokens = await x_tokens(sandbox)
    other = await x_tokens(sandbox)
    await sandbox.post(
        f"{X}/2/oauth2/revoke", data={"token": other["access_token"], "client_id": "xapp"}
    )
    x_problem(await sandbox.get(f"{X}/2/users/me", headers=bearer(other["access_token"])), 401)
    await sandbox.post("/_sandbox/clock/advance", json={"seconds": 7200})
    x_problem(await x_publish(sandbox, tokens["access_token"]), 401)


async def test_x_publish_fetch_delete(sandbox: httpx.AsyncClient) -> None:
    token = (await x_tokens(sandbox))["access_token"]
    r = await x_publish(sandbox, token, "Fresh pizza 🍕")
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["text"] == "Fresh pizza 🍕"
    assert data["edit_history_tweet_ids"] == [data["id"]]
    got = await sandbox.get(f"{X}/2/tweets/{data['id']}", headers=bearer(token))
    assert got.json()["data"]["text"] == "Fresh pizza 🍕"
    assert got.headers["x-rate-limit-limit"] == "900"

    other = (await x_tokens(sandbox))["access_token"]
    x_problem(await sandbox.delete(f"{X}/2/tweets/{data['id']}", headers=bearer(other)), 403)
    deleted = await sandbox.delete(f"{X}/2/tweets/{data['id']}", headers=bearer(token))
    assert deleted.json() == {"data": {"deleted": True}}
    gone = await sandbox.get(f"{X}/2/tweets/{data['id']}", headers=bearer(token))
    assert gone.status_code == 200
    assert gone.json()["errors"][0]["title"] == "Not Found Error"
    x_problem(await sandbox.delete(f"{X}/2/tweets/{data['id']}", headers=bearer(token)), 404)


async def test_x_weighted_length_limit(sandbox: httpx.AsyncClient) -> None:
    token = (await x_tokens(sandbox))["access_token"]
    assert (await x_publish(sandbox, token, "a" * 280)).status_code == 201
    assert (await x_publish(sandbox, token, "字" * 140)).status_code == 201
    for text in ("a" * 281, "字" * 141):
        body = x_problem(await x_publish(sandbox, token, text), 400)
        assert body["title"] == "Invalid Request"
    x_problem(await sandbox.post(f"{X}/2/tweets", json={}, headers=bearer(token)), 400)


async def test_x_rate_window_spent_then_renewed() -> None:
    windows = dict(SandboxConfig().x_windows, **{"tweets.create": Window(3, 900)})
    async with _client(SandboxConfig(x_windows=windows)) as c:
        tokens = await x_tokens(c)
        token = tokens["access_token"]
        remaining = []
        for _ in range(3):
            r = await x_publish(c, token)
            assert r.status_code == 201
            remaining.append(r.headers["x-rate-limit-remaining"])
        assert remaining == ["2", "1", "0"]
        r = await x_publish(c, token)
        x_problem(r, 429)
        assert r.headers["x-rate-limit-remaining"] == "0"
        assert int(r.headers["x-rate-limit-reset"]) >= int(time.time())
        # per user: a refreshed token gets no fresh window
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "xapp",
        }
        fresh = (await c.post(f"{X}/2/oauth2/token", data=form)).json()["access_token"]
        x_problem(await x_publish(c, fresh), 429)
        await c.post("/_sandbox/clock/advance", json={"seconds": 900})
        r = await x_publish(c, fresh)
        assert r.status_code == 201
        assert r.headers["x-rate-limit-remaining"] == "2"
        counts = (await c.get("/_sandbox/publish-counts/x")).json()["counts"]
        assert counts == {"ref-1": 4}


async def test_x_duplicate_content_refused(sandbox: httpx.AsyncClient) -> None:
    token = (await x_tokens(sandbox))["access_token"]
    first = await x_publish(sandbox, token, "Pizza night")
    assert first.status_code == 201
    body = x_problem(await x_publish(sandbox, token, "  Pizza   night "), 403)
    assert body["detail"] == "You are not allowed to create a Tweet with duplicate content."
    other = (await x_tokens(sandbox))["access_token"]
    assert (await x_publish(sandbox, other, "Pizza night")).status_code == 201  # per user
    tweet_id = first.json()["data"]["id"]
    await sandbox.delete(f"{X}/2/tweets/{tweet_id}", headers=bearer(token))
    assert (await x_publish(sandbox, token, "Pizza night")).status_code == 201


async def x_upload(c: httpx.AsyncClient, token: str, blob: bytes) -> httpx.Response:
    files = {"media": ("photo.png", blob, "image/png")}
    data = {"media_category": "tweet_image"}
    return await c.post(f"{X}/2/media/upload", files=files, data=data, headers=bearer(token))


async def test_x_media_upload_and_attach(sandbox: httpx.AsyncClient) -> None:
    token = (await x_tokens(sandbox))["access_token"]
    png = (await sandbox.get(f"{X}/_sandbox/media/p.png")).content
    r = await x_upload(sandbox, token, png)
    assert r.status_code == 200, r.text
    media = r.json()["data"]
    assert media["media_key"] == f"3_{media['id']}"
    assert media["image"] == {"image_type": "image/png", "w": 2, "h": 2}
    assert r.headers["x-rate-limit-limit"] == "500"
    posted = await sandbox.post(
        f"{X}/2/tweets", json={"media": {"media_ids": [media["id"]]}}, headers=bearer(token)
    )
    assert posted.status_code == 201, posted.text
    got = await sandbox.get(
        f"{X}/2/tweets/{posted.json()['data']['id']}",
        params={"tweet.fields": "attachments"},
        headers=bearer(token),
    )
    assert got.json()["data"]["attachments"] == {"media_keys": [media["media_key"]]}

    bad = await sandbox.post(
        f"{X}/2/tweets",
        json={"text": "x", "media": {"media_ids": ["123"]}},
        headers=bearer(token),
    )
    assert x_problem(bad, 400)["detail"] == "Your media IDs are invalid."
    five = [(await x_upload(sandbox, token, png)).json()["data"]["id"] for _ in range(5)]
    too_many = await sandbox.post(
        f"{X}/2/tweets", json={"text": "y", "media": {"media_ids": five}}, headers=bearer(token)
    )
    x_problem(too_many, 400)
    other = (await x_tokens(sandbox))["access_token"]
    stolen = await sandbox.post(
        f"{X}/2/tweets", json={"text": "z", "media": {"media_ids": five[:1]}}, headers=bearer(other)
    )
    x_problem(stolen, 400)
    x_problem(await x_upload(sandbox, token, b"not an image"), 400)
    x_problem(await x_upload(sandbox, token, png + b"\0" * (5 * 1024 * 1024)), 400)


async def test_x_user_timeline_pages_and_metrics(sandbox: httpx.AsyncClient) -> None:
    token = (await x_tokens(sandbox))["access_token"]
    me = await sandbox.get(
        f"{X}/2/users/me", params={"user.fields": "public_metrics"}, headers=bearer(token)
    )
    user = me.json()["data"]
    assert user["public_metrics"]["followers_count"] > 0
    ids = [(await x_publish(sandbox, token)).json()["data"]["id"] for _ in range(7)]
    params = {"max_results": "5", "tweet.fields": "created_at,public_metrics"}
    first = await sandbox.get(
        f"{X}/2/users/{user['id']}/tweets", params=params, headers=bearer(token)
    )
    body = first.json()
    assert [t["id"] for t in body["data"]] == ids[::-1][:5]
    assert body["meta"]["result_count"] == 5
    metrics = body["data"][0]["public_metrics"]
    assert set(metrics) >= {"impression_count", "like_count", "retweet_count", "reply_count"}
    assert body["data"][0]["created_at"].endswith("Z")
    second = await sandbox.get(
        f"{X}/2/users/{user['id']}/tweets",
        params={**params, "pagination_token": body["meta"]["next_token"]},
        headers=bearer(token),
    )
    assert [t["id"] for t in second.json()["data"]] == ids[::-1][5:]
    assert "next_token" not in second.json()["meta"]
    again = await sandbox.get(f"{X}/2/tweets/{ids[0]}", params=params, headers=bearer(token))
    assert (
        again.json()["data"]["public_metrics"]
        == (
            await sandbox.get(f"{X}/2/tweets/{ids[0]}", params=params, headers=bearer(token))
        ).json()["data"]["public_metrics"]
    )
    later = await sandbox.get(
        f"{X}/2/users/{user['id']}/tweets",
        params={"start_time": "2999-01-01T00:00:00Z"},
        headers=bearer(token),
    )
    assert later.json() == {"meta": {"result_count": 0}}
    for bad in ({"max_results": "500"}, {"start_time": "yesterday"}):
        r = await sandbox.get(f"{X}/2/users/{user['id']}/tweets", params=bad, headers=bearer(token))
        x_problem(r, 400)


# --- Faults -------------------------------------------------------------------------------------


async def set_fault(c: httpx.AsyncClient, platform: str, kind: str, **extra: Any) -> None:
    r = await c.put(f"/_sandbox/faults/{platform}", json={"error_rates": {kind: 1.0}, **extra})
    assert r.status_code == 200, r.text


async def test_fault_server_error(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    token = (await x_tokens(sandbox))["access_token"]
    await set_fault(sandbox, "facebook", "server_error")
    await set_fault(sandbox, "x", "server_error")
    r = await fb_publish(sandbox, page)
    assert r.status_code == 500
    assert fb_error(r)["is_transient"] is True
    x_problem(await x_publish(sandbox, token), 500)
    assert (await sandbox.get("/_sandbox/publish-counts/facebook")).json()["counts"] == {}
    assert (await sandbox.get("/_sandbox/publish-counts/x")).json()["counts"] == {}


async def test_fault_rate_limited(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    token = (await x_tokens(sandbox))["access_token"]
    await set_fault(sandbox, "facebook", "rate_limited")
    await set_fault(sandbox, "x", "rate_limited")
    r = await fb_publish(sandbox, page)
    assert r.status_code == 429
    assert fb_error(r)["code"] == 32
    usage = json.loads(r.headers["X-Business-Use-Case-Usage"])[page[0]][0]
    assert usage["estimated_time_to_regain_access"] > 0
    r = await x_publish(sandbox, token)
    x_problem(r, 429)
    assert r.headers["x-rate-limit-remaining"] == "0"
    assert int(r.headers["x-rate-limit-reset"]) > int(time.time())


async def test_fault_auth_revoked(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    token = (await x_tokens(sandbox))["access_token"]
    await set_fault(sandbox, "facebook", "auth_revoked")
    await set_fault(sandbox, "x", "auth_revoked")
    r = await fb_publish(sandbox, page)
    assert (fb_error(r)["code"], fb_error(r)["error_subcode"]) == (190, 460)
    x_problem(await x_publish(sandbox, token), 401)


async def test_fault_accept_then_timeout_stores_and_counts(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    token = (await x_tokens(sandbox))["access_token"]
    await set_fault(sandbox, "facebook", "accept_then_timeout")
    await set_fault(sandbox, "x", "accept_then_timeout")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fb_publish(sandbox, page, ref="fb-late"), 0.2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(x_publish(sandbox, token, ref="x-late"), 0.2)
    for platform, ref in (("facebook", "fb-late"), ("x", "x-late")):
        posts = (await sandbox.get(f"/_sandbox/posts/{platform}")).json()["data"]
        assert [p["client_ref"] for p in posts] == [ref]
        counts = (await sandbox.get(f"/_sandbox/publish-counts/{platform}")).json()["counts"]
        assert counts == {ref: 1}


async def test_fault_late_commit_stores_only_after_the_client_gave_up(
    sandbox: httpx.AsyncClient,
) -> None:
    """The hard case for exactly-once: the write lands after the client stopped waiting, so
    a lookup made too soon says it is not there, and one made later finds it. Reads are not
    delayed. The commit comes on the sandbox's clock, which the test moves forward."""
    page = await fb_page(sandbox)
    token = (await x_tokens(sandbox))["access_token"]
    for platform in ("facebook", "x"):
        await set_fault(sandbox, platform, "late_commit", commit_after_s=60)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fb_publish(sandbox, page, ref="fb-late"), 0.2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(x_publish(sandbox, token, ref="x-late"), 0.2)
    for platform in ("facebook", "x"):  # the client gave up; the platform has nothing yet
        assert (await sandbox.get(f"/_sandbox/posts/{platform}")).json()["data"] == []
    read = await sandbox.get(
        f"{FB}/{page[0]}/published_posts", headers={"Authorization": f"Bearer {page[1]}"}
    )
    assert read.status_code == 200  # a read rolls no late commit, and answers at once
    await advance_sandbox(sandbox, 60)
    for platform, ref in (("facebook", "fb-late"), ("x", "x-late")):

        async def stored(platform: str = platform) -> list[dict[str, Any]]:
            return list((await sandbox.get(f"/_sandbox/posts/{platform}")).json()["data"])

        posts = await wait_for(stored)  # the sandbox's handler, woken, stores it
        assert [p["client_ref"] for p in posts] == [ref]
        hit = (await sandbox.get(f"/_sandbox/fault-counts/{platform}")).json()["counts"]
        assert hit == {"late_commit": 1}


async def test_fault_latency(sandbox: httpx.AsyncClient) -> None:
    token = (await x_tokens(sandbox))["access_token"]
    await sandbox.put("/_sandbox/faults/x", json={"latency_ms": 150})
    started = time.monotonic()
    assert (await x_publish(sandbox, token)).status_code == 201
    assert time.monotonic() - started >= 0.15


async def test_fault_config_admin(sandbox: httpx.AsyncClient) -> None:
    default = (await sandbox.get("/_sandbox/faults/facebook")).json()
    assert default["latency_ms"] == 0
    assert set(default["error_rates"].values()) == {0.0}
    too_much = {"error_rates": {"server_error": 0.7, "rate_limited": 0.5}}
    assert (await sandbox.put("/_sandbox/faults/x", json=too_much)).status_code == 422
    assert (await sandbox.put("/_sandbox/faults/x", json={"bogus": 1})).status_code == 422
    assert (await sandbox.get("/_sandbox/faults/myspace")).status_code == 404
    put = await sandbox.put(
        "/_sandbox/faults/x", json={"error_rates": {"server_error": 0.3}, "seed": 3}
    )
    assert put.json()["error_rates"]["server_error"] == 0.3
    assert (await sandbox.get("/_sandbox/faults/x")).json()["seed"] == 3


async def test_faults_are_deterministic_for_a_seed(sandbox: httpx.AsyncClient) -> None:
    token = (await x_tokens(sandbox))["access_token"]
    config = {"error_rates": {"server_error": 0.5}, "seed": 42}

    async def statuses() -> list[int]:
        await sandbox.put("/_sandbox/faults/x", json=config)
        return [
            (await sandbox.get(f"{X}/2/users/me", headers=bearer(token))).status_code
            for _ in range(12)
        ]

    first = await statuses()
    assert set(first) == {200, 500}
    assert await statuses() == first


# --- Counts and reset ---------------------------------------------------------------------------


async def test_publish_counts_per_reference_never_dedupe(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    token = (await x_tokens(sandbox))["access_token"]
    for ref in ("a", "a", "b"):
        assert (await fb_publish(sandbox, page, "same text", ref)).status_code == 200
        assert (await x_publish(sandbox, token, ref=ref)).status_code == 201  # X: no duplicates
    for platform in ("facebook", "x"):
        counts = (await sandbox.get(f"/_sandbox/publish-counts/{platform}")).json()["counts"]
        assert counts == {"a": 2, "b": 1}
        assert len((await sandbox.get(f"/_sandbox/posts/{platform}")).json()["data"]) == 3


async def test_reset_forgets_everything(sandbox: httpx.AsyncClient) -> None:
    page = await fb_page(sandbox)
    token = (await x_tokens(sandbox))["access_token"]
    await fb_publish(sandbox, page)
    await x_publish(sandbox, token)
    await set_fault(sandbox, "x", "server_error")
    assert (await sandbox.post("/_sandbox/reset")).json() == {"reset": True}
    for platform in ("facebook", "x"):
        assert (await sandbox.get(f"/_sandbox/posts/{platform}")).json()["data"] == []
        assert (await sandbox.get(f"/_sandbox/publish-counts/{platform}")).json()["counts"] == {}
    assert (await sandbox.get("/_sandbox/faults/x")).json()["error_rates"]["server_error"] == 0.0
    x_problem(await sandbox.get(f"{X}/2/users/me", headers=bearer(token)), 401)
    listed = (await sandbox.get("/_sandbox/platforms")).json()["platforms"]
    assert listed == sorted([*PLATFORM_NAMES, "yelp"])  # Yelp: reviews only, read-only
