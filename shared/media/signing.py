"""Signed media URLs: how a platform (or a browser) fetches a file without credentials.

``/v1/media/files/<object key>?type=<content type>&exp=<unix time>&sig=<kid>.<mac>``: the MAC
is HMAC-SHA256 over the agency, the key, the content type and the expiry, with a key derived
from the token key ring (``CHORUS_TOKEN_KEYS``; the development key outside production), so
rotating the ring rotates these too and the key id in the URL says which one signed it. Change
any part and the link is refused (403); so is an expired one, by ``shared.clock``. The key must
lie under its agency's prefix (``agencies/<agency id>/``): a link signed for one agency can
never name another agency's object.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared import clock
from shared.config import Settings
from shared.crypto.keys import KeyRing, keyring_from_settings
from shared.errors import Forbidden
from shared.media.storage.errors import InvalidKey
from shared.media.storage.keys import agency_of_key, object_key, validate_key

FILES_PATH = "/v1/media/files/"
VERSION = b"chorus.media-url.v1"
SERVABLE_TYPE = re.compile(r"^(image|video|audio)/[a-z0-9][a-z0-9.+-]{0,63}$")
"""What a signed file may be served as: media only. Never markup (HTML, and SVG, which carries
scripts), whatever the caller signs."""
_NOT_SERVABLE = frozenset({"image/svg+xml"})
_EXPIRES = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{43})$")


class MediaLinkInvalid(Forbidden):
    code = "media_link_invalid"

    def __init__(self) -> None:
        super().__init__(
            "this media link is not valid (altered, or not signed by Chorus); ask for a new link"
        )


class MediaLinkExpired(Forbidden):
    code = "media_link_expired"

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(
            f"this media link expired at {expired_at.isoformat()}; ask for a new link",
            extra={"expired_at": expired_at.isoformat()},
        )


@dataclass(frozen=True, slots=True)
class SignedFile:
    """What a valid link grants: one object of one agency, served as one type, until then."""

    agency_id: uuid.UUID
    key: str
    content_type: str
    expires_at: datetime


def is_servable(content_type: str) -> bool:
    return bool(SERVABLE_TYPE.match(content_type)) and content_type not in _NOT_SERVABLE


class MediaUrlSigner:
    def __init__(self, ring: KeyRing) -> None:
        self._active = ring.active_kid
        self._keys = {kid: _derive(ring.key(kid) or b"") for kid in ring}

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaUrlSigner:
        return cls(keyring_from_settings(settings))

    def sign(
        self, agency_id: uuid.UUID, key: str, *, content_type: str, expires_at: datetime
    ) -> str:
        """The path and query of a link to ``key`` (an object of ``agency_id``)."""
        validate_key(key)
        if agency_of_key(key) != agency_id:
            raise InvalidKey(f"{key!r} is not an object of agency {agency_id}")
        if not is_servable(content_type):
            raise ValueError(f"{content_type!r} is not a media type Chorus serves")
        expires = int(expires_at.timestamp())
        mac = self._mac(self._active, agency_id, key, content_type, expires)
        query = urlencode({"type": content_type, "exp": expires, "sig": f"{self._active}.{mac}"})
        return f"{FILES_PATH}{quote(key, safe='/')}?{query}"

    def sign_media(
        self,
        agency_id: uuid.UUID,
        sha256_hex: str,
        variant: str = "original",
        *,
        content_type: str,
        expires_at: datetime,
    ) -> str:
        """:meth:`sign` for the content-addressed object ``object_key(agency, sha, variant)``."""
        key = object_key(agency_id, sha256_hex, variant)
        return self.sign(agency_id, key, content_type=content_type, expires_at=expires_at)

    def verify(
        self,
        key: str,
        *,
        content_type: str | None,
        expires: str | None,
        signature: str | None,
        now: datetime | None = None,
    ) -> SignedFile:
        """What the link grants; :class:`MediaLinkInvalid` for anything altered or missing,
        :class:`MediaLinkExpired` (checked after the signature) once its time has passed."""
        match = _SIGNATURE.match(signature or "")
        if match is None or content_type is None or not _EXPIRES.match(expires or ""):
            raise MediaLinkInvalid()
        kid, given = match.groups()
        assert expires is not None
        try:
            validate_key(key)
        except InvalidKey:
            raise MediaLinkInvalid() from None
        agency_id = agency_of_key(key)
        if agency_id is None or kid not in self._keys or not is_servable(content_type):
            raise MediaLinkInvalid()
        expected = self._mac(kid, agency_id, key, content_type, int(expires))
        if not hmac.compare_digest(expected, given):
            raise MediaLinkInvalid()
        expires_at = datetime.fromtimestamp(int(expires), UTC)
        if (now or clock.now()) >= expires_at:
            raise MediaLinkExpired(expires_at)
        return SignedFile(agency_id, key, content_type, expires_at)

    def _mac(
        self, kid: str, agency_id: uuid.UUID, key: str, content_type: str, expires: int
    ) -> str:
        # Newline-separated: no part can hold one (keys refuse control characters, the
        # type and the numbers are patterns without them), so no two messages collide.
        message = b"\n".join(
            [
                VERSION,
                kid.encode(),
                str(agency_id).encode(),
                key.encode(),
                content_type.encode(),
                str(expires).encode(),
            ]
        )
        digest = hmac.new(self._keys[kid], message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _derive(ring_key: bytes) -> bytes:
    """A key for media links only, from one ring key (never the ring key itself)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=VERSION).derive(ring_key)


def media_url(
    settings: Settings,
    agency_id: uuid.UUID,
    key: str,
    *,
    content_type: str,
    ttl_seconds: int | None = None,
    signer: MediaUrlSigner | None = None,
) -> str:
    """An absolute signed link (``media_public_base_url``, else ``public_base_url``) that
    works for ``ttl_seconds`` (default ``media_url_ttl_seconds``) from now."""
    ttl = settings.media_url_ttl_seconds if ttl_seconds is None else ttl_seconds
    expires_at = clock.now() + timedelta(seconds=ttl)
    path = (signer or MediaUrlSigner.from_settings(settings)).sign(
        agency_id, key, content_type=content_type, expires_at=expires_at
    )
    base = (settings.media_public_base_url or settings.public_base_url).rstrip("/")
    return base + path
