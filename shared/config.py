"""Settings, read once from the environment (prefix ``CHORUS_``) and an optional ``.env`` file.

``DATABASE_URL`` and ``REDIS_URL`` are also read without the prefix because that is what the
dev stack, Docker and most hosting platforms hand a process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from shared.crypto.keys import KeyRingError, is_weak_key, parse_keyring

APP_DB_ROLE = "chorus_app"
"""The role the application connects as: owns nothing and cannot bypass row-level security."""

DEV_SECRET_KEY = "dev-only-secret-key-change-me-in-production-0000"
DEV_APP_DB_PASSWORD = "chorus-app-dev"
_PLACEHOLDERS = {
    "",
    "changeme",
    "change-me",
    "secret",
    "password",
    "dev",
    DEV_SECRET_KEY,
    DEV_APP_DB_PASSWORD,
}


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot be used safely."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHORUS_", env_file=".env", extra="ignore", case_sensitive=False
    )

    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/chorus",
        validation_alias=AliasChoices("CHORUS_DATABASE_URL", "DATABASE_URL"),
        description="Owner/admin connection: migrations and maintenance only.",
    )
    app_database_url: str | None = Field(
        default=None,
        description="Connection the API and worker use. Derived from database_url with the "
        "chorus_app role when unset.",
    )
    database_app_password: SecretStr = SecretStr(DEV_APP_DB_PASSWORD)
    db_pool_size: int = 10
    db_max_overflow: int = 10

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("CHORUS_REDIS_URL", "REDIS_URL"),
    )

    # Outages (issue #12): every wait on PostgreSQL and Redis is bounded, so an outage is a
    # quick 503 instead of a hang. See shared.db.engine.Database. ----------------------------
    db_connect_timeout_seconds: float = 5.0
    """Opening a database connection (API and worker)."""
    db_pool_timeout_seconds: float = 5.0
    """The API's wait for a free pooled connection before answering 503."""
    db_statement_timeout_seconds: float = 5.0
    """The API's longest statement (server-side ``statement_timeout``); a server that does not
    answer at all is given up a second later."""
    worker_db_statement_timeout_seconds: float = 60.0
    """The worker's longest statement: its bulk jobs (fan-out, imports, rollups) run longer."""
    redis_connect_timeout_seconds: float = 2.0
    redis_timeout_seconds: float = 2.0
    """The API's longest wait for a Redis answer (it runs no blocking commands)."""

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    jwt_issuer: str = "chorus"
    jwt_audience: str = "chorus-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30

    invitation_ttl_days: int = 7
    rate_limit_login_per_account: str = "10/minute"
    rate_limit_login_per_address: str = "30/minute"
    rate_limit_refresh_per_address: str = "60/minute"
    rate_limit_refresh_per_account: str = "20/minute"
    rate_limit_agency_requests: str = "1200/minute"
    """Per agency, over every API route; plans will set their own later."""

    max_request_bytes: int = 16 * 1024 * 1024
    import_max_rows: int = 10_000
    public_base_url: str = "http://127.0.0.1:8000"

    token_keys: SecretStr = SecretStr("")
    """Keys sealing OAuth tokens at rest: ``kid:base64key,...`` (32-byte keys), first one
    active. Unset outside production: a key derived from the dev secret is used."""

    outbound_connect_timeout_seconds: float = 5.0
    outbound_read_timeout_seconds: float = 30.0
    """Longest wait for the next bytes of an answer once the request is sent."""
    outbound_total_timeout_seconds: float = 60.0
    outbound_max_connections: int = 400
    outbound_max_connections_per_host: int = 0
    """0: no per-host cap beyond ``outbound_max_connections``."""
    outbound_max_response_bytes: int = 10 * 1024 * 1024
    outbound_user_agent: str = "Chorus/1.0 (+https://github.com/chorus)"
    outbound_allow_hosts: str = ""
    """``host:port,...`` that customer URLs may reach although private or loopback (the local
    platform sandbox); matched exactly, nothing else on that host is let through."""

    platform_sandbox_url: str = ""
    """Point every platform connector at this sandbox (``make run`` and the tests do: test
    mode, no real social network is called). Empty: the platforms' real hosts."""
    platform_apps: SecretStr = SecretStr("")
    """Chorus's app registration per platform, JSON: ``{"facebook": {"client_id": "…",
    "client_secret": "…"}, …}``. In sandbox mode missing entries get sandbox credentials."""
    dispatch_interval_seconds: float = 0.5
    """How often each worker's dispatcher looks for due posts (at once again after a full
    batch)."""
    dispatch_limit: int = 2000
    """Posts leased per dispatcher pass."""
    publish_batch_size: int = 100
    """Posts per publish job: one arq job carries many posts, not one."""
    queue_lease_seconds: int = 60
    """A leased post no job claimed within this is queued again. A job holding posts that
    wait for the platform's gate extends their lease every third of this."""
    publish_attempt_timeout_seconds: float = 90.0
    """The longest one publish (all its requests) may take; cut off then and reconciled. A
    sent post's lease is this plus ``reconcile_delay_seconds``: the dispatcher never hands on
    a post whose request may still be in flight."""
    reconcile_delay_seconds: float = 10.0
    """How long after an attempt ended without an answer a platform may still apply it: the
    lookup ("did it go out?") waits this long, so it cannot miss a late write."""
    reconcile_concurrency_per_platform: int = 50
    """Lookups in flight to one platform from one worker process, beside the publishes."""
    dispatch_held_per_platform: int = 2000
    """Posts jobs may hold per platform at once (waiting for its gate or in flight, across
    workers); the rest of a burst waits ``scheduled`` until there is room."""
    reconcile_give_up_seconds: int = 24 * 3600
    """How long after a post's deadline Chorus keeps asking the platform whether an
    unanswered publish went out, before marking it failed (and saying it may be out)."""
    publish_concurrency_per_platform: int = 300
    """Calls in flight to one platform from one worker process (bench/publish: 100 → 300
    took a 10,000-post burst from 1,450 to about 1,700 posts/s; 600 was no better)."""
    token_refresh_lead_seconds: int = 900
    """Refresh an account's access token when it has less than this left to live."""
    oauth_state_ttl_seconds: int = 900
    """How long a connect flow (authorize page, then callback, then page choice) may take."""

    # Job queues (issue #12): urgent and bulk work drain through separate workers ---------
    worker_max_jobs: int = 20
    """Jobs one urgent worker process runs at once (fan-out, publishing, replies, mail, token
    refresh, Stripe webhooks)."""
    bulk_worker_max_jobs: int = 8
    """Jobs one bulk worker process runs at once (metric and review collection, backfills,
    rollups, exports): however deep its backlog, the urgent workers are not touched."""

    # Mail (issue #13): delivered over SMTP by the worker (shared.mail) -------------------
    smtp_host: str = ""
    """The SMTP server (relay) mail goes to. Empty: no mail leaves; the worker writes each
    mail to its log instead (in full outside production, links included). ``make run``
    points this at its local mail catcher (``services.mailcatcher``)."""
    smtp_port: int | None = None
    """Unset: 587 for ``starttls``, 465 for ``tls``, 25 for ``none``."""
    smtp_username: str = ""
    """Empty: no AUTH."""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls``: plain connection upgraded with STARTTLS (refused if the server does not
    offer it); ``tls``: TLS from the first byte (SMTPS); ``none``: plain text, for a local
    catcher only."""
    smtp_tls_ca_file: str = ""
    """A CA bundle (PEM) to verify the server's certificate with instead of the system's (a
    private relay). Certificates are always verified, host name included."""
    smtp_from: str = "Chorus <no-reply@chorus.localhost>"
    """The From of every mail; its domain also names the Message-IDs."""
    smtp_timeout_seconds: float = 30.0
    """The longest wait for each step of a delivery (connect, each SMTP reply)."""

    @property
    def smtp_port_in_use(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return {"starttls": 587, "tls": 465, "none": 25}[self.smtp_security]

    # Billing (issue #8) ------------------------------------------------------------------
    stripe_api_base: str = "http://127.0.0.1:8420"
    """Where the Stripe SDK sends its calls: ``https://api.stripe.com`` in production; by
    default the ``localstripe`` that ``make run`` starts (the tests start their own)."""
    stripe_environment: Literal["live", "test", "local"] = "local"
    """Which of each plan's Stripe price ids to use; ``local`` is localstripe (legacy plans,
    created by Chorus on first use)."""
    stripe_secret_key: SecretStr = SecretStr("sk_test_chorus_localstripe")
    stripe_webhook_secret: SecretStr = SecretStr("whsec_chorus_localstripe")
    stripe_local_webhooks: bool = False
    """localstripe only: register ``public_base_url``'s webhook with it (``make run`` does;
    the tests deliver events themselves)."""
    billing_trial_plan: str = "enterprise"
    """What an agency may do before it subscribes (for its plan's trial length)."""
    billing_grace_seconds: int = 7 * 24 * 3600
    """After a failed payment: warnings this long, then the agency becomes read-only."""
    billing_retention_days: int = 90
    """A canceled agency's data is kept this long (read-only) before it may be purged."""
    billing_quantity_debounce_seconds: float = 30.0
    """Location changes are gathered this long before Stripe's quantity is updated."""

    # Media storage (issue #17): shared.media.storage, served by signed URLs ---------------
    media_storage: Literal["filesystem", "s3"] = "filesystem"
    media_root: str = ""
    """Filesystem storage's folder. Empty: ``media`` in the dev stack's data folder
    (``$CHORUS_DATA_DIR`` or the git-ignored ``.data/`` of the checkout)."""
    media_s3_bucket: str = ""
    media_s3_endpoint_url: str = ""
    """Empty: AWS S3. Otherwise MinIO, R2, GCS interop... (``https://host:port``)."""
    media_s3_region: str = "us-east-1"
    media_s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    """``path`` for most self-hosted S3-compatible servers (MinIO, moto)."""
    media_s3_access_key_id: str = ""
    """Empty (with the secret): the default AWS credential chain (environment, role)."""
    media_s3_secret_access_key: SecretStr = SecretStr("")
    media_url_ttl_seconds: int = 900
    """How long a signed media URL works (platforms fetch the file within minutes)."""
    media_public_base_url: str = ""
    """Where signed media URLs point (a CDN in front of the API, say). Empty:
    ``public_base_url``."""
    media_resumable_max_bytes: int = 10 * 1024 * 1024 * 1024
    """The largest file a resumable (tus) upload takes (``Tus-Max-Size``)."""
    media_resumable_part_bytes: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024)
    """A resumable upload is stored in parts of this size (S3: at least 5 MiB but the last);
    one part is the most a request holds in memory."""
    media_resumable_expiry_seconds: int = Field(24 * 3600, ge=60)
    """An unfinished resumable upload is dropped this long after its last bytes arrived."""
    media_max_upload_bytes: int = 200 * 1024 * 1024
    """The largest file ``POST /v1/media`` takes in one request (larger: a resumable upload)."""
    media_delete_grace_seconds: int = 7 * 24 * 3600
    """A deleted media is removed from storage this long after (it can be restored until)."""

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env != "production":
            return self
        problems: list[str] = []
        secret = self.secret_key.get_secret_value()
        if secret.lower() in _PLACEHOLDERS or len(secret) < 32:
            problems.append(
                "CHORUS_SECRET_KEY is missing, a placeholder, or shorter than 32 characters; "
                "set it to a long random value (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)"
            )
        if self.app_database_url is None:
            password = self.database_app_password.get_secret_value()
            if password.lower() in _PLACEHOLDERS or len(password) < 16:
                problems.append(
                    "CHORUS_DATABASE_APP_PASSWORD is missing or a placeholder; set the password "
                    "of the chorus_app database role (16+ characters) or CHORUS_APP_DATABASE_URL"
                )
        token_problem = _token_keys_problem(self)
        if self.media_storage == "filesystem" and not self.media_root:
            problems.append(
                "CHORUS_MEDIA_ROOT must name the folder media is kept in (a volume that "
                "outlives the process), or set CHORUS_MEDIA_STORAGE=s3"
            )
        if token_problem:
            problems.append(
                f"CHORUS_TOKEN_KEYS {token_problem}; set it to `kid:base64key` entries of 32 "
                "random bytes, the active key first (e.g. `python -c 'import base64, os; "
                'print("k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode())\'`)'
            )
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def admin_db_url(self) -> URL:
        return _asyncpg(make_url(self.database_url))

    @property
    def app_db_url(self) -> URL:
        if self.app_database_url:
            return _asyncpg(make_url(self.app_database_url))
        return self.admin_db_url.set(
            username=APP_DB_ROLE, password=self.database_app_password.get_secret_value()
        )


def _token_keys_problem(settings: Settings) -> str | None:
    spec = settings.token_keys.get_secret_value().strip()
    if spec.lower() in _PLACEHOLDERS:
        return "is missing or a placeholder"
    try:
        ring = parse_keyring(spec)
    except KeyRingError as exc:
        return f"is malformed ({exc})"
    weak = [kid for kid in ring if is_weak_key(ring.key(kid) or b"", DEV_SECRET_KEY)]
    if weak:
        return f"holds placeholder keys ({', '.join(weak)})"
    return None


def _asyncpg(url: URL) -> URL:
    if url.drivername in {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}:
        return url.set(drivername="postgresql+asyncpg")
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
