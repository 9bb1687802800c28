"""The Stripe webhook's signature check, header by header: only a body Stripe signed with our
secret, at a time within the tolerance (neither stale nor in the future), is accepted. Every
refused one is a 400 problem with code ``bad_signature`` and nothing in the inbox: a removed
timestamp check, a parser that takes a header it should not, or a refusal that still stores
the event fails here."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from tests.support.stripe_webhooks import WEBHOOK_PATH, digest, signature

TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE
"""Seconds a signature stays good (Stripe's default, which the webhook uses)."""


def event_body() -> bytes:
    return json.dumps(
        {
            "id": f"evt_sig{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": "customer.updated",
            "data": {"object": {"object": "customer", "id": "cus_sig", "metadata": {}}},
        }
    ).encode()


def secret_of(settings: Settings) -> str:
    return settings.stripe_webhook_secret.get_secret_value()


async def inbox_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM stripe_event"))).scalar_one())


async def post(
    client: httpx.AsyncClient, body: bytes, header: str | bytes | None
) -> httpx.Response:
    headers = {b"Content-Type": b"application/json"}
    if header is not None:
        headers[b"Stripe-Signature"] = header if isinstance(header, bytes) else header.encode()
    return await client.post(WEBHOOK_PATH, content=body, headers=headers)


def _cases(secret: str, body: bytes) -> dict[str, str | bytes | None]:
    """Every header that must be refused, by what is wrong with it."""
    now = int(time.time())
    stale = now - TOLERANCE - 3600
    future = now + TOLERANCE + 3600
    huge = 10**30
    good = digest(secret, now, body)
    return {
        "no header": None,
        "empty header": "",
        "stale timestamp, correctly signed": f"t={stale},v1={digest(secret, stale, body)}",
        "future timestamp, correctly signed": f"t={future},v1={digest(secret, future, body)}",
        "huge timestamp, correctly signed": f"t={huge},v1={digest(secret, huge, body)}",
        "digits beyond int parsing": f"t={'9' * 5000},v1={good}",
        "missing t=": f"v1={good}",
        "empty t=": f"t=,v1={good}",
        "non-numeric t=": f"t=yesterday,v1={digest(secret, 'yesterday', body)}",
        "fractional t=": f"t={now}.5,v1={digest(secret, f'{now}.5', body)}",
        "missing v1=": f"t={now}",
        "empty v1=": f"t={now},v1=",
        "wrong scheme only": f"t={now},v0={good}",
        "v1 of another secret": f"t={now},v1={digest('whsec_not_ours', now, body)}",
        "v1 of another body": f"t={now},v1={digest(secret, now, body + b' ')}",
        "v1 signed for another time": f"t={now},v1={digest(secret, now - 1, body)}",
        "uppercase hex": f"t={now},v1={good.upper()}",
        "non-ASCII": f"t={now},v1={good[:-1]}é".encode(),
        "garbage": "not a signature at all",
        "commas only": ",,,",
    }


@pytest.mark.parametrize(
    "case", list(_cases("whsec_placeholder", b"{}")), ids=lambda c: c.replace(" ", "_")
)
async def test_a_bad_header_is_400_bad_signature_and_nothing_is_recorded(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings, case: str
) -> None:
    body = event_body()
    header = _cases(secret_of(settings), body)[case]
    answer = await post(client, body, header)
    assert answer.status_code == 400, (case, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == "bad_signature", (case, problem)
    assert "Stripe-Signature" in problem["detail"]
    assert await inbox_count(admin_engine) == 0


async def test_a_valid_signature_is_accepted_and_recorded(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    body = event_body()
    answer = await post(client, body, signature(secret_of(settings), body))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "duplicate": False}
    assert await inbox_count(admin_engine) == 1


async def test_a_signature_within_the_tolerance_either_side_is_accepted(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    """Stripe retries with a fresh signature, but clocks differ: a minute either way is fine."""
    now = int(time.time())
    for stamp in (now - 60, now + 60):
        body = event_body()
        answer = await post(client, body, signature(secret_of(settings), body, stamp=stamp))
        assert answer.status_code == 200, (stamp - now, answer.text)
    assert await inbox_count(admin_engine) == 2


async def test_one_valid_v1_among_several_is_accepted(
    client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    """While a secret is rolled, Stripe signs with the old and the new one: any v1 may match,
    in any place, next to schemes it does not know."""
    now = int(time.time())
    layouts = (
        "t={t},v1={old},v1={good}",
        "t={t},v1={good},v1={old}",
        "v0={old},v1={old},t={t},v1={good}",
    )
    for layout in layouts:
        body = event_body()
        header = layout.format(
            t=now,
            old=digest("whsec_rolled_away", now, body),
            good=digest(secret_of(settings), now, body),
        )
        answer = await post(client, body, header)
        assert answer.status_code == 200, (layout, answer.text)
    assert await inbox_count(admin_engine) == len(layouts)
