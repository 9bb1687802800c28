"""Which connector serves which platform, built once per process from the settings.

App credentials come from ``CHORUS_PLATFORM_APPS`` (JSON: ``{"facebook": {"client_id": …,
"client_secret": …}, …}``). With ``CHORUS_PLATFORM_SANDBOX_URL`` set, every connector talks to
the sandbox, and platforms without credentials get sandbox ones; without it, a platform with
no credentials is not configured and cannot be connected.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from shared.config import Settings, get_settings
from shared.crypto import Sealed
from shared.http import OutboundHttp
from shared.platforms.base import Connector
from shared.platforms.types import AppCredentials

PLATFORM_NAMES = (
    "facebook",
    "instagram",
    "x",
    "linkedin",
    "google_business",
    "pinterest",
    "tiktok",
    "youtube",
)


class PlatformNotConfigured(LookupError):
    def __init__(self, platform: str) -> None:
        super().__init__(
            f"{platform} is not configured on this Chorus installation: its app credentials "
            "are missing from CHORUS_PLATFORM_APPS"
        )
        self.platform = platform


def connector_class(platform: str) -> type[Connector]:
    """Each platform's module is ``shared.platforms.<name>`` and exports ``CONNECTOR``."""
    if platform not in PLATFORM_NAMES:
        raise KeyError(platform)
    module = importlib.import_module(f"shared.platforms.{platform}")
    cls: type[Connector] = module.CONNECTOR
    return cls


def app_credentials(settings: Settings, platform: str) -> AppCredentials:
    raw = settings.platform_apps.get_secret_value().strip()
    apps: dict[str, Any] = json.loads(raw) if raw else {}
    entry = apps.get(platform)
    if isinstance(entry, dict) and entry.get("client_id") and entry.get("client_secret"):
        return AppCredentials(str(entry["client_id"]), Sealed(str(entry["client_secret"])))
    if settings.platform_sandbox_url:
        return AppCredentials(f"chorus-sandbox-{platform}", Sealed("sandbox-secret"))
    raise PlatformNotConfigured(platform)


_built: dict[tuple[Any, ...], Connector] = {}
_clients: dict[tuple[Any, ...], OutboundHttp] = {}


def _http(settings: Settings) -> OutboundHttp:
    """One outbound client per distinct HTTP configuration (tests tune the timeouts)."""
    key = (
        settings.outbound_connect_timeout_seconds,
        settings.outbound_read_timeout_seconds,
        settings.outbound_total_timeout_seconds,
        settings.outbound_max_connections,
        settings.outbound_allow_hosts,
        settings.platform_sandbox_url,
    )
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = OutboundHttp(settings)
    return client


def connector(platform: str, settings: Settings | None = None) -> Connector:
    """The connector for ``platform``, one per process and configuration."""
    if platform not in PLATFORM_NAMES:
        raise KeyError(platform)
    settings = settings or get_settings()
    http = _http(settings)
    key = (platform, settings.platform_apps.get_secret_value(), id(http))
    built = _built.get(key)
    if built is None:
        cls = connector_class(platform)
        built = cls(
            app_credentials(settings, platform),
            sandbox_url=settings.platform_sandbox_url,
            http=http,
        )
        _built[key] = built
    return built


async def close() -> None:
    """Close the connectors' HTTP sessions of the running event loop (API and worker
    shutdown); a client still serving another loop (another app in this process) stays, with
    its connectors, until that loop's shutdown closes it."""
    for key, client in list(_clients.items()):
        await client.close()
        if client.idle:
            del _clients[key]
    kept = {id(client) for client in _clients.values()}
    for key in [k for k in _built if k[-1] not in kept]:
        del _built[key]
