"""Issue #12: a database or Redis outage is a quick 503 with ``Retry-After``, never a hang or
a 500; the client's keep-alive connection survives it; the app recovers by itself.

Each test here runs the real app under uvicorn against a PostgreSQL and a Redis of this
module's own (started here, whichever servers the rest of the suite uses), which it stops,
restarts and freezes, and talks to it over one kept-alive HTTP connection.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy.engine import URL

from services.api.app import create_app
from shared.config import Settings
from tests.conftest import migrate
from tests.factories import PASSWORD
from tests.support.outages import (
    ApiServer,
    DedicatedPostgres,
    DedicatedRedis,
    KeepAliveClient,
    Reply,
)

pytestmark = pytest.mark.slow

FAST = 10.0
"""Generous bound on how long an outage may keep a request waiting (the timeouts below make
it 1-4 s); a hang would be 20 s or more."""


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DedicatedPostgres]:
    server = DedicatedPostgres(tmp_path_factory.mktemp("outage-postgres"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DedicatedRedis]:
    server = DedicatedRedis(tmp_path_factory.mktemp("outage-redis"))
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
async def api(postgres: DedicatedPostgres, redis_server: DedicatedRedis) -> AsyncIterator[int]:
    """The API on its port, with one pooled connection and short timeouts."""
    assert postgres.url is not None
    await migrate(postgres.url)
    settings = Settings(
        env="test",
        database_url=postgres.url.render_as_string(hide_password=False),
        redis_url=redis_server.url,
        log_json=True,
        log_level="CRITICAL",
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_seconds=1.0,
        db_connect_timeout_seconds=2.0,
        db_statement_timeout_seconds=3.0,
        redis_connect_timeout_seconds=1.0,
        redis_timeout_seconds=1.0,
    )
    server = ApiServer(create_app(settings)).start()
    try:
        yield server.port
    finally:
        postgres.thaw()
        redis_server.thaw()
        server.stop()


@pytest.fixture
async def http(api: int) -> AsyncIterator[KeepAliveClient]:
    async with KeepAliveClient(api) as client:
        yield client


@dataclass(frozen=True)
class Owner:
    email: str
    headers: dict[str, str]


async def _owner(http: KeepAliveClient) -> Owner:
    """A new agency's owner, signed up through the API."""
    email = f"owner-{uuid.uuid4().hex[:8]}@outage.example"
    signup = await http.request(
        "POST",
        "/v1/auth/signup",
        json_body={
            "agency_name": "Outage Agency",
            "full_name": "Owner",
            "email": email,
            "password": PASSWORD,
        },
    )
    assert signup.status == 201, signup.body
    return Owner(email, {"Authorization": f"Bearer {signup.json()['access_token']}"})


def _assert_unavailable(reply: Reply, dependency_says: str) -> None:
    assert reply.status == 503, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert body["code"] == "service_unavailable"
    assert dependency_says in body["detail"]
    assert "retry" in body["detail"]
    assert int(reply.headers["retry-after"]) >= 1
    assert reply.seconds < FAST, f"the 503 took {reply.seconds:.1f} s"


async def test_stopped_database_is_503_and_the_pool_recovers_when_it_returns(
    http: KeepAliveClient, postgres: DedicatedPostgres
) -> None:
    owner = await _owner(http)
    assert (await http.request("GET", "/v1/brands", headers=owner.headers)).status == 200

    # A restart between two requests costs no request an error: the pooled connection the
    # server closed is replaced before anyone uses it.
    postgres.stop()
    postgres.start()
    assert (await http.request("GET", "/v1/brands", headers=owner.headers)).status == 200

    postgres.stop()
    try:
        for _ in range(2):  # the pooled connection lost, then a new one refused
            down = await http.request("GET", "/v1/brands", headers=owner.headers)
            _assert_unavailable(down, "cannot reach its database")
    finally:
        postgres.start()

    # Same app, same client connection: the pool reconnects by itself.
    back = await http.request("GET", "/v1/brands", headers=owner.headers)
    assert back.status == 200, back.body


async def test_frozen_database_is_503_fast_not_a_hang(
    http: KeepAliveClient, postgres: DedicatedPostgres
) -> None:
    owner = await _owner(http)
    assert (await http.request("GET", "/v1/brands", headers=owner.headers)).status == 200

    postgres.freeze()
    try:
        # The pooled connection's statement gets no answer, then a new connection none.
        stuck = await http.request("GET", "/v1/brands", headers=owner.headers)
        _assert_unavailable(stuck, "cannot reach its database")
        connecting = await http.request("GET", "/v1/brands", headers=owner.headers)
        _assert_unavailable(connecting, "cannot reach its database")
    finally:
        postgres.thaw()

    back = await http.request("GET", "/v1/brands", headers=owner.headers)
    assert back.status == 200, back.body


async def _hold_locks(url: URL, release: asyncio.Event, held: asyncio.Event) -> None:
    """Take every table the principal's lookup reads, so requests wait on them holding
    their pooled connection."""
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE membership, agency IN ACCESS EXCLUSIVE MODE")
            held.set()
            await release.wait()
    finally:
        await conn.close()


async def _until_waiting_for_a_lock(url: URL) -> None:
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        deadline = time.monotonic() + FAST
        while not await conn.fetchval(sql):
            assert time.monotonic() < deadline, "the request never reached the locked tables"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def test_slow_statement_and_exhausted_pool_are_503(
    api: int, postgres: DedicatedPostgres
) -> None:
    assert postgres.url is not None
    async with KeepAliveClient(api) as first, KeepAliveClient(api) as second:
        owner = await _owner(first)
        release, held = asyncio.Event(), asyncio.Event()
        locker = asyncio.create_task(_hold_locks(postgres.url, release, held))
        try:
            await held.wait()
            waiting = asyncio.create_task(first.request("GET", "/v1/brands", headers=owner.headers))
            await _until_waiting_for_a_lock(postgres.url)  # holding the one pooled connection
            busy = await second.request("GET", "/v1/brands", headers=owner.headers)
            _assert_unavailable(busy, "every database connection is in use")
            slow = await waiting
            _assert_unavailable(slow, "did not finish this request in time")
        finally:
            release.set()
            await locker

        # The cancelled statement left its connection usable, and both clients theirs.
        assert (await first.request("GET", "/v1/brands", headers=owner.headers)).status == 200
        assert (await second.request("GET", "/v1/brands", headers=owner.headers)).status == 200


async def test_redis_down_or_frozen_is_503_where_needed_and_recovers(
    http: KeepAliveClient, redis_server: DedicatedRedis
) -> None:
    owner = await _owner(http)
    login = {"email": owner.email, "password": PASSWORD}
    assert (await http.request("POST", "/v1/auth/login", json_body=login)).status == 200

    redis_server.kill()
    try:
        # Login's limits guard against password guessing: no Redis, no login.
        refused = await http.request("POST", "/v1/auth/login", json_body=login)
        _assert_unavailable(refused, "(Redis)")
        # The per-agency request quota fails open: the data is in PostgreSQL.
        reads = await http.request("GET", "/v1/brands", headers=owner.headers)
        assert reads.status == 200, reads.body
        assert reads.seconds < FAST
    finally:
        redis_server.start()
    assert (await http.request("POST", "/v1/auth/login", json_body=login)).status == 200

    redis_server.freeze()
    try:
        frozen = await http.request("POST", "/v1/auth/login", json_body=login)
        _assert_unavailable(frozen, "(Redis)")
        reads = await http.request("GET", "/v1/brands", headers=owner.headers)
        assert reads.status == 200, reads.body
        assert reads.seconds < FAST
    finally:
        redis_server.thaw()
    assert (await http.request("POST", "/v1/auth/login", json_body=login)).status == 200
