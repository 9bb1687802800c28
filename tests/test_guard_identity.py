"""Sessions ending (shared/identity/sessions.py), from mutants of it that the session and token
tests let live (docs/MUTANTS.md): "end my other sessions" ends only mine, and only once; an
ended session and a session that is not yours say so."""

from __future__ import annotations

import httpx

from tests.factories import PASSWORD, sign_up


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _brands_status(client: httpx.AsyncClient, access_token: str) -> int:
    return (await client.get("/v1/brands", headers=bearer(access_token))).status_code


async def test_ending_my_other_sessions_leaves_other_peoples_alone(
    client: httpx.AsyncClient,
) -> None:
    me = await sign_up(client)
    my_phone = await _login(client, me.email)
    someone = await sign_up(client)
    their_phone = await _login(client, someone.email)

    ended = await client.post("/v1/auth/sessions/end-others", headers=me.headers)
    assert ended.json() == {"ended": 1}
    assert await _brands_status(client, my_phone["access_token"]) == 401
    assert await _brands_status(client, someone.access_token) == 200
    assert await _brands_status(client, their_phone["access_token"]) == 200

    # Nothing is left to end: sessions already ended are not counted again.
    again = await client.post("/v1/auth/sessions/end-others", headers=me.headers)
    assert again.json() == {"ended": 0}


async def test_an_ended_session_and_someone_elses_session_say_what_to_do(
    client: httpx.AsyncClient,
) -> None:
    me = await sign_up(client)
    someone = await sign_up(client)
    (their_session,) = (await client.get("/v1/auth/sessions", headers=someone.headers)).json()[
        "items"
    ]
    not_mine = await client.post(
        "/v1/auth/sessions/end", json={"session_id": their_session["id"]}, headers=me.headers
    )
    assert not_mine.status_code == 404
    assert (
        not_mine.json()["detail"]
        == "no such session of yours; list them with GET /v1/auth/sessions"
    )

    await client.post("/v1/auth/logout", json={"refresh_token": me.refresh_token})
    ended = await client.get("/v1/brands", headers=me.headers)
    assert ended.status_code == 401
    assert ended.json()["detail"] == "this session has ended; log in again"
