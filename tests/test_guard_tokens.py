"""Access tokens refused or accepted (shared/identity/tokens.py), from mutants of
``decode_access_token`` that the token tests let live (docs/MUTANTS.md): what the refusal says,
and the few seconds of clock skew a just-expired token is still allowed.

The token tests go through the API and pin the problem ``code``; here the message a client
reads is pinned too, and the skew, which needs a token expiring within seconds of now.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from shared.config import Settings
from shared.errors import Unauthorized
from shared.identity import tokens

SETTINGS = Settings(env="test")


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    """Nothing here touches PostgreSQL or Redis: nothing to empty after each test."""


def token(key: bytes | None = None, **changes: Any) -> str:
    """A genuine access token with ``changes`` to its claims, signed with ``key`` (by default
    the real one)."""
    issued, _ = tokens.issue_access_token(
        SETTINGS, user_id=uuid.uuid4(), agency_id=uuid.uuid4(), session_id=uuid.uuid4()
    )
    claims = {**jwt.decode(issued, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, key or tokens._signing_key(SETTINGS), algorithm="HS256")


def refusal(credential: str) -> str:
    with pytest.raises(Unauthorized) as refused:
        tokens.decode_access_token(SETTINGS, credential)
    return f"{refused.value.error_code}: {refused.value.message}"


def test_a_refused_token_says_why() -> None:
    assert refusal(token(key=b"a stranger's key" * 2)) == "invalid_token: access token is not valid"
    assert refusal(token(sub="admin")) == "invalid_token: access token is not valid"
    assert refusal(token(typ="refresh")) == "invalid_token: token is not an access token"


def test_a_token_expired_a_moment_ago_is_still_accepted_for_clock_skew() -> None:
    now = int(time.time())
    just_expired = token(iat=now - 900, exp=now - 3)
    claims = tokens.decode_access_token(SETTINGS, just_expired)
    assert claims.expires_at == datetime.fromtimestamp(now - 3, UTC)
    assert refusal(token(iat=now - 900, exp=now - 60)).startswith("token_expired: ")
