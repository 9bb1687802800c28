"""The TOTP implementation against RFC 6238's own test vectors (SHA-1, 8 digits)."""

from __future__ import annotations

import pytest

from shared.identity import totp

RFC_KEY = b"12345678901234567890"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc_6238_vectors(moment: int, expected: str) -> None:
    assert totp.hotp(RFC_KEY, totp.step_at(moment), digits=8) == expected


def test_codes_match_within_one_step_and_not_beyond() -> None:
    secret = totp.new_secret()
    now = 1_800_000_000.0
    code = totp.code_at(secret, now)
    assert totp.matching_step(secret, code, now=now) == totp.step_at(now)
    assert totp.matching_step(secret, code, now=now + 30) == totp.step_at(now)
    assert totp.matching_step(secret, code, now=now + 95) is None
    assert totp.matching_step(secret, "12345", now=now) is None
    assert totp.matching_step(secret, "abcdef", now=now) is None
    uri = totp.provisioning_uri(secret, "ada@northwind.example")
    assert uri.startswith("otpauth://totp/Chorus%3Aada%40northwind.example?secret=")
