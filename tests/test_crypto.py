from __future__ import annotations

import base64
import os
import pickle
import uuid

import pytest

from shared.config import ConfigError, Settings
from shared.crypto import (
    Binding,
    DecryptionFailed,
    KeyRing,
    KeyRingError,
    MalformedEnvelope,
    Sealed,
    UnknownKey,
    decrypt,
    encrypt,
    key_id,
    keyring_from_settings,
    needs_rotation,
    parse_keyring,
    reencrypt,
)

TOKEN = "EAAG-very-secret-access-token-1234567890"
AGENCY = uuid.uuid4()
OTHER_AGENCY = uuid.uuid4()
ACCESS = Binding("social_account.access_token", AGENCY)
PRODUCTION_SECRETS = {
    "secret_key": "a-long-random-value-" * 3,
    "database_app_password": "p" * 24,
    "media_root": "/var/lib/chorus/media",
}


def _entry(kid: str, key: bytes | None = None) -> str:
    raw = key if key is not None else os.urandom(32)
    return f"{kid}:{base64.urlsafe_b64encode(raw).decode()}"


@pytest.fixture
def old_ring() -> KeyRing:
    return parse_keyring(_entry("k1"))


def test_roundtrip_and_envelope_shape(old_ring: KeyRing) -> None:
    envelope = encrypt(TOKEN, ACCESS, old_ring)
    assert envelope.startswith("v1.k1.")
    assert TOKEN not in envelope
    assert decrypt(envelope, ACCESS, old_ring).reveal() == TOKEN
    # A fresh nonce every time: the same token never gives the same envelope.
    assert encrypt(TOKEN, ACCESS, old_ring) != envelope


def test_flipped_byte_is_refused(old_ring: KeyRing) -> None:
    envelope = encrypt(TOKEN, ACCESS, old_ring)
    head, body = envelope.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[20] ^= 0x01
    tampered = f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(DecryptionFailed) as caught:
        decrypt(tampered, ACCESS, old_ring)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "other",
    [
        Binding("social_account.access_token", OTHER_AGENCY),
        Binding("social_account.refresh_token", AGENCY),
        Binding("social_account.access_token", AGENCY, owner_id=uuid.uuid4()),
    ],
    ids=["other-agency", "other-purpose", "other-row"],
)
def test_envelope_copied_to_another_owner_does_not_open(old_ring: KeyRing, other: Binding) -> None:
    envelope = encrypt(TOKEN, ACCESS, old_ring)
    with pytest.raises(DecryptionFailed):
        decrypt(envelope, other, old_ring)


def test_rotation_old_key_still_opens_and_reencrypt_moves_to_active(old_ring: KeyRing) -> None:
    envelope = encrypt(TOKEN, ACCESS, old_ring)
    old_key = old_ring.key("k1")
    assert old_key is not None
    rotated = parse_keyring(f"{_entry('k2')},{_entry('k1', old_key)}")
    assert rotated.active_kid == "k2"

    assert needs_rotation(envelope, rotated)
    assert decrypt(envelope, ACCESS, rotated).reveal() == TOKEN

    moved = reencrypt(envelope, ACCESS, rotated)
    assert key_id(moved) == "k2"
    assert not needs_rotation(moved, rotated)
    assert reencrypt(moved, ACCESS, rotated) == moved
    assert decrypt(moved, ACCESS, parse_keyring(_entry("k2", rotated.key("k2")))).reveal() == TOKEN
    # Once k1 is retired, only the re-encrypted value still opens.
    with pytest.raises(UnknownKey):
        decrypt(envelope, ACCESS, parse_keyring(_entry("k2", rotated.key("k2"))))


def test_unknown_kid_is_named_without_key_material(old_ring: KeyRing) -> None:
    envelope = encrypt(TOKEN, ACCESS, parse_keyring(_entry("gone")))
    with pytest.raises(UnknownKey, match="'gone'") as caught:
        decrypt(envelope, ACCESS, old_ring)
    assert caught.value.kid == "gone"


def test_same_kid_with_a_different_key_fails_cleanly(old_ring: KeyRing) -> None:
    envelope = encrypt(TOKEN, ACCESS, old_ring)
    with pytest.raises(DecryptionFailed):
        decrypt(envelope, ACCESS, parse_keyring(_entry("k1")))


@pytest.mark.parametrize(
    "value", ["", "plain-token", "v2.k1.AAAA", "v1..AAAA", "v1.k1.!!!", "v1.k1.AAAA"]
)
def test_malformed_envelopes_are_refused(old_ring: KeyRing, value: str) -> None:
    with pytest.raises(MalformedEnvelope):
        decrypt(value, ACCESS, old_ring)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "k1",
        "k1:",
        f"k1:{base64.urlsafe_b64encode(os.urandom(16)).decode()}",
        "k1:not base64!",
        f"bad.kid:{base64.urlsafe_b64encode(os.urandom(32)).decode()}",
        f"{_entry('k1')},{_entry('k1')}",
    ],
    ids=["empty", "no-key", "blank-key", "short", "not-base64", "bad-kid", "duplicate"],
)
def test_bad_key_ring_specs_are_refused(spec: str) -> None:
    with pytest.raises(KeyRingError):
        parse_keyring(spec)


def test_sealed_and_key_ring_never_show_secrets(old_ring: KeyRing) -> None:
    opened = decrypt(encrypt(TOKEN, ACCESS, old_ring), ACCESS, old_ring)
    key = old_ring.key("k1")
    assert key is not None
    encoded_key = base64.urlsafe_b64encode(key).decode()
    for shown in (repr(opened), str(opened), f"{opened}", f"{opened!r}", repr([opened])):
        assert TOKEN not in shown
    for shown in (repr(old_ring), str(old_ring)):
        assert encoded_key not in shown
        assert repr(key) not in shown
    assert opened == Sealed(TOKEN)
    with pytest.raises(TypeError):
        pickle.dumps(opened)


def test_development_ring_is_derived_and_stable() -> None:
    first = keyring_from_settings(Settings(env="development"))
    second = keyring_from_settings(Settings(env="development"))
    envelope = encrypt(TOKEN, ACCESS, first)
    assert decrypt(envelope, ACCESS, second).reveal() == TOKEN


@pytest.mark.parametrize(
    "token_keys",
    [
        "",
        "changeme",
        "k1:short",
        _entry("k1", bytes(32)),
        f"{_entry('k1')},{_entry('old', b'a' * 32)}",
    ],
    ids=["missing", "placeholder", "short-key", "zero-key", "placeholder-secondary"],
)
def test_production_refuses_unusable_token_keys_and_names_them(token_keys: str) -> None:
    with pytest.raises(ConfigError, match="CHORUS_TOKEN_KEYS") as caught:
        Settings(env="production", token_keys=token_keys, **PRODUCTION_SECRETS)
    assert "k1:short" not in str(caught.value)


def test_production_refuses_the_development_key() -> None:
    dev = keyring_from_settings(Settings(env="development"))
    dev_key = dev.key(dev.active_kid)
    assert dev_key is not None
    with pytest.raises(ConfigError, match="CHORUS_TOKEN_KEYS"):
        Settings(env="production", token_keys=_entry("k1", dev_key), **PRODUCTION_SECRETS)


def test_production_accepts_a_real_ring() -> None:
    spec = f"{_entry('k2')},{_entry('k1')}"
    settings = Settings(env="production", token_keys=spec, **PRODUCTION_SECRETS)
    ring = keyring_from_settings(settings)
    assert ring.kids == ("k2", "k1")
    assert spec.split(":")[1] not in repr(settings)
