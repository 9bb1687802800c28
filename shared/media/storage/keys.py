"""Object keys: what a back-end accepts, and the content-addressed keys Chorus stores media under.

Every key of an agency's media starts with ``agencies/<agency id>/``, so neither a guessed key
nor a signed URL (which binds the agency too) reaches another agency's objects.
"""

from __future__ import annotations

import re
import uuid

from shared.media.storage.errors import InvalidKey

MAX_KEY_BYTES = 1024
"""S3's limit for a key, in UTF-8 bytes."""

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_AGENCY_PREFIX = re.compile(rf"^agencies/({_UUID})/")


def validate_key(key: str) -> str:
    """The key unchanged, or :class:`InvalidKey` saying why it cannot be stored."""
    if not key:
        raise InvalidKey("an object key must not be empty")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKey(f"an object key must be at most {MAX_KEY_BYTES} bytes")
    if "\\" in key:
        raise InvalidKey(f"an object key must not hold a backslash: {key!r}")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        raise InvalidKey(f"an object key must not hold NUL or control characters: {key!r}")
    if key.startswith("/"):
        raise InvalidKey(f"an object key must be relative: {key!r}")
    if any(part in {"", ".", ".."} for part in key.split("/")):
        raise InvalidKey(f"an object key must not hold empty, '.' or '..' segments: {key!r}")
    return key


def object_key(agency_id: uuid.UUID, sha256_hex: str, variant: str = "original") -> str:
    """``agencies/<agency>/<sha[:2]>/<sha>/<variant>``: the same bytes are stored once per
    agency; a derivative (``variant``) sits beside its original."""
    if not _SHA256_HEX.match(sha256_hex):
        raise InvalidKey(f"not a lowercase SHA-256 hex digest: {sha256_hex!r}")
    if not _VARIANT.match(variant):
        raise InvalidKey(f"a variant is 1-64 of [a-z0-9_-], starting alphanumeric: {variant!r}")
    return f"agencies/{agency_id}/{sha256_hex[:2]}/{sha256_hex}/{variant}"


def agency_of_key(key: str) -> uuid.UUID | None:
    """The agency whose prefix ``key`` lies under, or None."""
    match = _AGENCY_PREFIX.match(key)
    return uuid.UUID(match.group(1)) if match else None
