from __future__ import annotations

import base64
import os

import pytest

from shared.config import DEV_SECRET_KEY, ConfigError, Settings


def test_production_refuses_placeholder_secret_and_names_it() -> None:
    with pytest.raises(ConfigError, match="CHORUS_SECRET_KEY"):
        Settings(env="production", secret_key=DEV_SECRET_KEY, database_app_password="x" * 24)


def test_production_refuses_default_database_password_and_names_it() -> None:
    with pytest.raises(ConfigError, match="CHORUS_DATABASE_APP_PASSWORD"):
        Settings(env="production", secret_key="k" * 48)


def test_production_accepts_real_secrets() -> None:
    settings = Settings(
        env="production",
        secret_key="a-long-random-value-" * 3,
        database_app_password="p" * 24,
        token_keys="k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
        media_root="/var/lib/chorus/media",
    )
    assert settings.app_db_url.username == "chorus_app"
    assert settings.app_db_url.drivername == "postgresql+asyncpg"


def test_production_refuses_media_kept_in_the_checkout_and_names_the_setting() -> None:
    real = {
        "secret_key": "a-long-random-value-" * 3,
        "database_app_password": "p" * 24,
        "token_keys": "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    with pytest.raises(ConfigError, match="CHORUS_MEDIA_ROOT"):
        Settings(env="production", **real)
    assert Settings(env="production", media_storage="s3", media_s3_bucket="media", **real)


def test_plain_database_url_env_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:pw@db.internal:6543/chorus")
    monkeypatch.delenv("CHORUS_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.admin_db_url.host == "db.internal"
    assert settings.admin_db_url.port == 6543
    assert settings.app_db_url.username == "chorus_app"
