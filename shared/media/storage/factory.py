"""The storage the settings name (``CHORUS_MEDIA_STORAGE``)."""

from __future__ import annotations

import os
from pathlib import Path

from shared.config import ConfigError, Settings
from shared.media.storage.base import Storage
from shared.media.storage.filesystem import FilesystemStorage
from shared.media.storage.s3 import S3Storage

CHECKOUT = Path(__file__).resolve().parents[3]


def default_media_root() -> Path:
    """``media`` in the dev stack's data folder: ``$CHORUS_DATA_DIR`` when set (as the dev
    stack reads it), else the checkout's git-ignored ``.data/``."""
    data_dir = os.environ.get("CHORUS_DATA_DIR", "").strip()
    return (Path(data_dir) if data_dir else CHECKOUT / ".data") / "media"


def storage_from_settings(settings: Settings) -> Storage:
    """A new storage (connections open on first use; ``aclose()`` it when done)."""
    if settings.media_storage == "s3":
        if not settings.media_s3_bucket:
            raise ConfigError("CHORUS_MEDIA_STORAGE=s3 needs CHORUS_MEDIA_S3_BUCKET")
        return S3Storage(
            bucket=settings.media_s3_bucket,
            endpoint_url=settings.media_s3_endpoint_url or None,
            region=settings.media_s3_region,
            access_key_id=settings.media_s3_access_key_id or None,
            secret_access_key=settings.media_s3_secret_access_key.get_secret_value() or None,
            addressing_style=settings.media_s3_addressing_style,
        )
    root = Path(settings.media_root) if settings.media_root else default_media_root()
    return FilesystemStorage(root)
