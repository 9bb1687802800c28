"""Outbound HTTP: one client per process, timeouts on every call, SSRF-guarded customer URLs."""

from shared.http.client import (
    OutboundHttp,
    Response,
    Timeouts,
    close,
    fetch,
    get_client,
    get_session,
)
from shared.http.errors import (
    BlockedDestination,
    OutboundConnectionError,
    OutboundError,
    OutboundTimeout,
    ResponseTooLarge,
    TooManyRedirects,
)
from shared.http.ssrf import GuardedResolver, address_block_reason, check_destination

__all__ = [
    "BlockedDestination",
    "GuardedResolver",
    "OutboundConnectionError",
    "OutboundError",
    "OutboundHttp",
    "OutboundTimeout",
    "Response",
    "ResponseTooLarge",
    "Timeouts",
    "TooManyRedirects",
    "address_block_reason",
    "check_destination",
    "close",
    "fetch",
    "get_client",
    "get_session",
]
