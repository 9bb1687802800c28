"""Secrets at rest: AES-256-GCM envelopes under a rotating key ring."""

from shared.crypto.keys import KeyRing, KeyRingError, keyring_from_settings, parse_keyring
from shared.crypto.sealed import (
    Binding,
    CryptoError,
    DecryptionFailed,
    MalformedEnvelope,
    Sealed,
    UnknownKey,
    decrypt,
    encrypt,
    key_id,
    needs_rotation,
    reencrypt,
)

__all__ = [
    "Binding",
    "CryptoError",
    "DecryptionFailed",
    "KeyRing",
    "KeyRingError",
    "MalformedEnvelope",
    "Sealed",
    "UnknownKey",
    "decrypt",
    "encrypt",
    "key_id",
    "keyring_from_settings",
    "needs_rotation",
    "parse_keyring",
    "reencrypt",
]
