"""Token care: refreshed before expiry by the worker, never lost on a failed refresh, only an
``auth`` answer disconnects (and the location sees it), re-encryption under a new key."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.worker import settings as worker_settings
from services.worker.context import WorkerContext
from services.worker.jobs import social_accounts as jobs
from shared.config import Settings
from shared.crypto import UnknownKey, keyring_from_settings, parse_keyring
from shared.crypto.keys import DEV_KID, dev_key
from shared.db import Database
from shared.jobs import QUEUE_NAME
from shared.social_accounts import refresh, sealing
from shared.social_accounts.models import SocialAccount
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.social_accounts import connect


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> tuple[Tenant, dict[str, Any]]:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    return owner, await create_location(client, owner, brand["id"])


async def _row(engine: AsyncEngine, account_id: str) -> SocialAccount:
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text("SELECT * FROM social_account WHERE id = :id"), {"id": account_id}
                )
            )
            .mappings()
            .one()
        )
    return SocialAccount(**dict(row))


async def _expire_soon(engine: AsyncEngine, account_id: str, minutes: int = 5) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE social_account SET token_expires_at = :at WHERE id = :id"),
            {"at": datetime.now(UTC) + timedelta(minutes=minutes), "id": account_id},
        )


async def _run_worker(settings: Settings) -> Worker:
    """A real arq worker in burst mode: runs the cron's job and what it enqueued."""
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, settings)

    ctx: dict[str, Any] = {"redis": redis}
    await worker_settings.startup(ctx, settings, start_loops=False)
    try:
        assert await jobs.refresh_due(ctx) >= 1
    finally:
        await WorkerContext.of(ctx).db.dispose()
    worker = Worker(
        functions=worker_settings.build_functions(),
        redis_pool=redis,
        queue_name=QUEUE_NAME,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    await worker.main()
    await worker.close()
    await redis.aclose()
    return worker


async def test_the_worker_refreshes_a_token_before_it_expires(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any]],
) -> None:
    owner, location = shop
    account = await connect(client, owner.headers, location["id"], "x")
    keyring = keyring_from_settings(settings)
    before = sealing.token_set(await _row(admin_engine, account["id"]), keyring)
    assert before.refresh_token is not None
    await _expire_soon(admin_engine, account["id"])

    worker = await _run_worker(settings)
    assert worker.jobs_failed == 0

    after_row = await _row(admin_engine, account["id"])
    after = sealing.token_set(after_row, keyring)
    assert after_row.status == "connected"
    assert after_row.last_refreshed_at is not None
    assert after_row.token_expires_at is not None
    assert after_row.token_expires_at > datetime.now(UTC) + timedelta(hours=1)
    assert after.access_token.reveal() != before.access_token.reveal()
    assert after.refresh_token is not None
    assert after.refresh_token.reveal() != before.refresh_token.reveal()  # X rotates it
    me = await sandbox.get(
        "/x/2/users/me", headers={"Authorization": f"Bearer {after.access_token.reveal()}"}
    )
    assert me.status_code == 200
    assert me.json()["data"]["id"] == account["external_id"]
    shown = await client.get(f"/v1/social-accounts/{account['id']}", headers=owner.headers)
    assert shown.json()["status"] == "connected"
    assert shown.json()["last_refreshed_at"] is not None


async def test_a_transient_failure_keeps_the_account_and_its_refresh_token(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any]],
) -> None:
    owner, location = shop
    account = await connect(client, owner.headers, location["id"], "x")
    keyring = keyring_from_settings(settings)
    before = await _row(admin_engine, account["id"])
    await _expire_soon(admin_engine, account["id"])
    await sandbox.put("/_sandbox/faults/x", json={"error_rates": {"server_error": 1.0}})
    outcome = await refresh.refresh_account(app_db, settings, owner.agency_id, before.id)
    assert outcome is refresh.Outcome.RETRY_LATER
    after = await _row(admin_engine, account["id"])
    assert after.status == "connected"
    assert after.refresh_failures == 1
    assert after.next_refresh_at is not None
    assert after.next_refresh_at > datetime.now(UTC)
    assert after.last_error is not None
    assert "trouble" in after.last_error
    old_refresh = sealing.token_set(before, keyring).refresh_token
    kept = sealing.token_set(after, keyring).refresh_token
    assert old_refresh is not None
    assert kept is not None
    assert kept.reveal() == old_refresh.reveal()
    # Backing off: the next scan leaves it alone until next_refresh_at.
    async with app_db.transaction() as session:
        due = await refresh.find_due(session, now=datetime.now(UTC), lead=timedelta(minutes=15))
    assert before.id not in {d.account_id for d in due}
    # The platform recovers: the next attempt refreshes.
    await sandbox.put("/_sandbox/faults/x", json={})
    outcome = await refresh.refresh_account(
        app_db, settings, owner.agency_id, before.id, now=after.next_refresh_at
    )
    assert outcome is refresh.Outcome.REFRESHED
    assert (await _row(admin_engine, account["id"])).refresh_failures == 0


async def test_only_an_auth_answer_marks_needs_reconnect_and_the_location_sees_it(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any]],
) -> None:
    owner, location = shop
    account = await connect(client, owner.headers, location["id"], "x")
    row = await _row(admin_engine, account["id"])
    tokens = sealing.token_set(row, keyring_from_settings(settings))
    assert tokens.refresh_token is not None
    # The user revokes Chorus at X: the refresh token stops working.
    revoked = await sandbox.post(
        "/_sandbox/tokens/x/revoke", json={"token": tokens.refresh_token.reveal()}
    )
    assert revoked.status_code == 200
    await _expire_soon(admin_engine, account["id"])
    outcome = await refresh.refresh_account(app_db, settings, owner.agency_id, row.id)
    assert outcome is refresh.Outcome.NEEDS_RECONNECT
    shown = (await client.get(f"/v1/social-accounts/{account['id']}", headers=owner.headers)).json()
    assert shown["status"] == "needs_reconnect"
    assert "Reconnect" in shown["last_error"]
    todo = await client.get(
        "/v1/social-accounts", params={"status": "needs_reconnect"}, headers=owner.headers
    )
    assert [a["id"] for a in todo.json()["items"]] == [account["id"]]
    events = await client.get(f"/v1/locations/{location['id']}/events", headers=owner.headers)
    latest = events.json()["items"][0]
    assert latest["type"] == "account.needs_reconnect"
    assert latest["payload"]["platform"] == "x"
    # Not scanned again; reconnecting makes it whole.
    async with app_db.transaction() as session:
        due = await refresh.find_due(session, now=datetime.now(UTC), lead=timedelta(hours=3))
    assert row.id not in {d.account_id for d in due}
    again = await connect(client, owner.headers, location["id"], "x")
    assert again["id"] == account["id"]
    assert again["status"] == "connected"
    assert again["last_error"] is None


async def test_a_refresh_answer_without_a_refresh_token_keeps_the_stored_one(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any]],
) -> None:
    """Google answers a refresh with a new access token only."""
    owner, location = shop
    account = await connect(client, owner.headers, location["id"], "google_business")
    keyring = keyring_from_settings(settings)
    before = sealing.token_set(await _row(admin_engine, account["id"]), keyring)
    assert before.refresh_token is not None
    await _expire_soon(admin_engine, account["id"])
    outcome = await refresh.refresh_account(
        app_db, settings, owner.agency_id, (await _row(admin_engine, account["id"])).id
    )
    assert outcome is refresh.Outcome.REFRESHED
    after = sealing.token_set(await _row(admin_engine, account["id"]), keyring)
    assert after.access_token.reveal() != before.access_token.reveal()
    assert after.refresh_token is not None
    assert after.refresh_token.reveal() == before.refresh_token.reveal()


async def test_two_workers_never_refresh_one_account_at_once(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any]],
) -> None:
    """X rotates refresh tokens: a second concurrent refresh with the old one would fail and
    disconnect the account. The row lock makes the second one step aside."""
    owner, location = shop
    account = await connect(client, owner.headers, location["id"], "x")
    row = await _row(admin_engine, account["id"])
    await _expire_soon(admin_engine, account["id"])
    await sandbox.put("/_sandbox/faults/x", json={"latency_ms": 300})
    outcomes = await asyncio.gather(
        refresh.refresh_account(app_db, settings, owner.agency_id, row.id),
        refresh.refresh_account(app_db, settings, owner.agency_id, row.id),
    )
    assert sorted(o.value for o in outcomes) in (["busy", "refreshed"], ["not_due", "refreshed"])
    assert (await _row(admin_engine, account["id"])).status == "connected"


async def test_reencrypt_moves_every_token_to_the_new_key(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any]],
) -> None:
    owner, location = shop
    x_account = await connect(client, owner.headers, location["id"], "x")
    fb_account = await connect(client, owner.headers, location["id"], "facebook")
    old_ring = keyring_from_settings(settings)
    plain = {
        a["id"]: sealing.token_set(await _row(admin_engine, a["id"]), old_ring)
        for a in (x_account, fb_account)
    }
    dev = base64.urlsafe_b64encode(dev_key(settings.secret_key.get_secret_value())).decode()
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    rotated = settings.model_copy(update={"token_keys": SecretStr(f"k2:{new},{DEV_KID}:{dev}")})
    assert await refresh.reseal_all(app_db, rotated) == (2, 2)
    assert await refresh.reseal_all(app_db, rotated) == (2, 0)  # nothing left to move
    only_new = parse_keyring(f"k2:{new}")
    for account_id, tokens in plain.items():
        row = await _row(admin_engine, account_id)
        assert row.token_key_id == "k2"
        assert row.access_token is not None
        assert row.access_token.startswith("v1.k2.")
        opened = sealing.token_set(row, only_new)
        assert opened.access_token.reveal() == tokens.access_token.reveal()
        assert (opened.refresh_token and opened.refresh_token.reveal()) == (
            tokens.refresh_token and tokens.refresh_token.reveal()
        )
        with pytest.raises(UnknownKey):
            sealing.token_set(row, old_ring)


async def test_no_token_reaches_a_log_line(
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    app_db: Database,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    shop: tuple[Tenant, dict[str, Any]],
) -> None:
    owner, location = shop
    keyring = keyring_from_settings(settings)
    with structlog.testing.capture_logs() as logs:
        account = await connect(client, owner.headers, location["id"], "x")
        first = sealing.token_set(await _row(admin_engine, account["id"]), keyring)
        await _expire_soon(admin_engine, account["id"])
        await sandbox.put("/_sandbox/faults/x", json={"error_rates": {"server_error": 1.0}})
        await refresh.refresh_account(app_db, settings, owner.agency_id, first_id(account))
        await sandbox.put("/_sandbox/faults/x", json={})
        await refresh.refresh_account(
            app_db, settings, owner.agency_id, first_id(account), force=True
        )
        second = sealing.token_set(await _row(admin_engine, account["id"]), keyring)
        assert second.refresh_token is not None
        await sandbox.post(
            "/_sandbox/tokens/x/revoke", json={"token": second.refresh_token.reveal()}
        )
        await refresh.refresh_account(
            app_db, settings, owner.agency_id, first_id(account), force=True
        )
    assert logs, "the flow logs something"
    text_of_logs = repr(logs)
    for tokens in (first, second):
        for token in (tokens.access_token, tokens.refresh_token):
            assert token is not None
            assert token.reveal() not in text_of_logs
    assert any(e["event"] == "social_account.needs_reconnect" for e in logs)


def first_id(account: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(account["id"])
