"""AES-256-GCM envelopes for secrets at rest (OAuth tokens and the like).

Envelope: ``v1.<kid>.<urlsafe-b64(nonce ‖ ciphertext ‖ tag)>``, ASCII, fits a ``text`` column.
The associated data binds each envelope to its owner (:class:`Binding`: purpose, agency and
optionally the row), so an envelope copied to another row or agency does not open.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto.keys import KeyRing

VERSION = "v1"
NONCE_BYTES = 12
_TAG_BYTES = 16
_REDACTED = "**********"


class CryptoError(Exception):
    """Base of the errors here. Messages never hold plaintext or key material."""


class MalformedEnvelope(CryptoError):
    """The value is not an envelope this code writes."""


class UnknownKey(CryptoError):
    """The envelope was sealed with a key id the ring does not hold."""

    def __init__(self, kid: str) -> None:
        super().__init__(
            f"no key {kid!r} in the key ring (CHORUS_TOKEN_KEYS); was it rotated out too early?"
        )
        self.kid = kid


class DecryptionFailed(CryptoError):
    """Tampered envelope, wrong owner binding, or a different key under the same id."""


class Sealed:
    """A secret in memory whose repr and str are redacted; ``reveal()`` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Sealed('{_REDACTED}')"

    def __str__(self) -> str:
        return _REDACTED

    def __format__(self, format_spec: str) -> str:
        return _REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sealed):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Sealed, self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Sealed values are not picklable; store the envelope instead")


@dataclass(frozen=True)
class Binding:
    """Who an envelope belongs to; it becomes the AES-GCM associated data.

    ``purpose`` names the field (``"social_account.access_token"``); ``owner_id`` the row when
    it is known before the first write (ids here are generated client-side).
    """

    purpose: str
    agency_id: uuid.UUID | str
    owner_id: uuid.UUID | str | None = None

    def associated_data(self, kid: str) -> bytes:
        parts = (
            "chorus",
            VERSION,
            kid,
            self.purpose,
            str(self.agency_id),
            "" if self.owner_id is None else str(self.owner_id),
        )
        return "\x00".join(parts).encode()


def encrypt(plaintext: str | Sealed, binding: Binding, keyring: KeyRing) -> str:
    """Seal with the ring's active key and a fresh random 96-bit nonce."""
    value = plaintext.reveal() if isinstance(plaintext, Sealed) else plaintext
    kid = keyring.active_kid
    key = keyring.key(kid)
    assert key is not None  # KeyRing guarantees the active key exists
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, value.encode(), binding.associated_data(kid))
    return f"{VERSION}.{kid}.{_b64encode(nonce + body)}"


def decrypt(envelope: str, binding: Binding, keyring: KeyRing) -> Sealed:
    kid, blob = _split(envelope)
    key = keyring.key(kid)
    if key is None:
        raise UnknownKey(kid)
    try:
        plain = AESGCM(key).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], binding.associated_data(kid)
        )
    except InvalidTag:
        raise DecryptionFailed(
            f"envelope sealed with key {kid!r} does not open for {binding.purpose!r}: "
            "tampered, copied from another owner, or the key under that id changed"
        ) from None
    return Sealed(plain.decode())


def key_id(envelope: str) -> str:
    return _split(envelope)[0]


def needs_rotation(envelope: str, keyring: KeyRing) -> bool:
    """True when the envelope is not sealed with the ring's active key."""
    return key_id(envelope) != keyring.active_kid


def reencrypt(envelope: str, binding: Binding, keyring: KeyRing) -> str:
    """Open with whichever key sealed it and seal again with the active key.

    The operator command that walks the social-account table with this comes with that table;
    an envelope already under the active key is returned unchanged.
    """
    if not needs_rotation(envelope, keyring):
        return envelope
    return encrypt(decrypt(envelope, binding, keyring), binding, keyring)


def _split(envelope: str) -> tuple[str, bytes]:
    parts = envelope.split(".")
    if len(parts) != 3 or parts[0] != VERSION or not parts[1]:
        raise MalformedEnvelope(f"not a {VERSION} envelope")
    try:
        blob = _b64decode(parts[2])
    except (binascii.Error, ValueError):
        raise MalformedEnvelope("envelope body is not valid base64") from None
    if len(blob) < NONCE_BYTES + _TAG_BYTES:
        raise MalformedEnvelope("envelope body is too short")
    return parts[1], blob


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
