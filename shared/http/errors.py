"""Outbound HTTP failures, shaped for the connectors' classification.

``request_sent`` is the line between *transient* (the request never left: retry freely) and
*ambiguous* (it may have been processed: reconcile before retrying). Messages carry the URL
without its query string, which is where tokens tend to hide.
"""

from __future__ import annotations

from typing import Literal


class OutboundError(Exception):
    def __init__(self, message: str, *, url: str = "", request_sent: bool = False) -> None:
        super().__init__(f"{message} [{url}]" if url else message)
        self.url = url
        self.request_sent = request_sent

    @property
    def ambiguous(self) -> bool:
        """The far side may have acted on the request."""
        return self.request_sent


class BlockedDestination(OutboundError):
    """A customer URL points somewhere Chorus must not go; nothing was sent."""

    def __init__(self, reason: str, *, url: str = "") -> None:
        super().__init__(f"destination refused: {reason}", url=url, request_sent=False)
        self.reason = reason


class OutboundTimeout(OutboundError):
    """``phase="connect"``: no connection was made, the request was never sent.
    ``phase="read"``: the request went out and no (complete) answer came back."""

    def __init__(self, phase: Literal["connect", "read"], *, url: str = "") -> None:
        what = "connecting" if phase == "connect" else "waiting for the answer"
        super().__init__(f"timed out {what}", url=url, request_sent=phase == "read")
        self.phase: Literal["connect", "read"] = phase


class OutboundConnectionError(OutboundError):
    """Could not connect (``request_sent`` false), or the connection broke afterwards."""


class ResponseTooLarge(OutboundError):
    def __init__(self, limit: int, *, url: str = "") -> None:
        super().__init__(f"answer larger than {limit} bytes", url=url, request_sent=True)
        self.limit = limit


class TooManyRedirects(OutboundError):
    def __init__(self, limit: int, *, url: str = "") -> None:
        super().__init__(f"more than {limit} redirects", url=url, request_sent=True)
