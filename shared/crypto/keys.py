"""The key ring for secrets at rest: ``CHORUS_TOKEN_KEYS`` = ``kid:base64key,kid:base64key``.

The first entry is the active key (new encryptions); the others only decrypt, so a key can be
rotated in by putting it first and rotated out once nothing is sealed with it any more.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from shared.config import Settings

KEY_BYTES = 32
DEV_KID = "dev"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyRingError(ValueError):
    """The key ring specification cannot be used. Never carries key material."""


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; ``active_kid`` seals, every key opens. The repr lists key ids only."""

    active_kid: str
    _keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.active_kid not in self._keys:
            raise KeyRingError(f"active key id {self.active_kid!r} is not in the key ring")
        for kid, key in self._keys.items():
            if not _KID.match(kid):
                raise KeyRingError(f"key id {kid!r} must be 1-32 of [A-Za-z0-9_-]")
            if len(key) != KEY_BYTES:
                raise KeyRingError(f"key {kid!r} must be {KEY_BYTES} bytes, got {len(key)}")

    @classmethod
    def of(cls, *entries: tuple[str, bytes]) -> KeyRing:
        """A ring from ``(kid, key)`` pairs, the first one active."""
        if not entries:
            raise KeyRingError("the key ring is empty")
        keys: dict[str, bytes] = {}
        for kid, key in entries:
            if kid in keys:
                raise KeyRingError(f"key id {kid!r} appears twice")
            keys[kid] = key
        return cls(entries[0][0], keys)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def key(self, kid: str) -> bytes | None:
        return self._keys.get(kid)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)


def parse_keyring(spec: str) -> KeyRing:
    """Parse ``kid:base64key,...`` (urlsafe or standard base64, padding optional)."""
    entries: list[tuple[str, bytes]] = []
    for position, raw in enumerate(spec.split(","), start=1):
        item = raw.strip()
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep or not kid.strip() or not encoded.strip():
            raise KeyRingError(f"entry {position} is not of the form kid:base64key")
        entries.append((kid.strip(), _decode_key(kid.strip(), encoded.strip())))
    return KeyRing.of(*entries)


def _decode_key(kid: str, encoded: str) -> bytes:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        if "+" in padded or "/" in padded:
            return base64.b64decode(padded, validate=True)
        return base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"key {kid!r} is not valid base64") from None


def dev_key(secret: str) -> bytes:
    """A key derived from the development secret: deterministic, so a dev database stays
    readable across restarts; never accepted in production."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"chorus.token-keys.dev"
    ).derive(secret.encode())


def is_weak_key(key: bytes, secret: str) -> bool:
    """Keys no production ring may hold: one repeated byte, or the development key."""
    return len(set(key)) <= 1 or key == dev_key(secret)


def keyring_from_settings(settings: Settings) -> KeyRing:
    """The configured ring; outside production, a ring of the derived dev key when unset."""
    spec = settings.token_keys.get_secret_value().strip()
    if spec:
        return parse_keyring(spec)
    if settings.env == "production":
        raise KeyRingError("CHORUS_TOKEN_KEYS is not set")
    return KeyRing.of((DEV_KID, dev_key(settings.secret_key.get_secret_value())))


def generate_entry(kid: str) -> str:
    """A fresh ``kid:key`` entry for ``CHORUS_TOKEN_KEYS``."""
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip('=')}"
