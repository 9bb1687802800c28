"""Where the current change comes from (request id, client address), for the audit log.

Set once per request by the HTTP middleware (or per job by the worker), read by
``shared.audit.service.record`` so services need not pass it around.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origin:
    request_id: str | None = None
    client_ip: str | None = None


_NOWHERE = Origin()
_origin: ContextVar[Origin | None] = ContextVar("chorus_audit_origin", default=None)


def set_origin(origin: Origin) -> None:
    _origin.set(origin)


def current_origin() -> Origin:
    return _origin.get() or _NOWHERE
