"""Pure ASGI middleware (no per-request task overhead): request id, access log, metrics,
and the request-size limit."""

from __future__ import annotations

import json
import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api import metrics
from shared.audit.context import Origin, set_origin

log = structlog.get_logger("chorus.http")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Gives every request an id (honouring a sane incoming ``X-Request-ID``), binds it to
    the log context, and records one access-log line and the Prometheus series per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        client = scope.get("client")
        set_origin(Origin(request_id=request_id, client_ip=client[0] if client else None))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            metrics.observe_request(scope["method"], template, status, elapsed)
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


STREAMED_BODY_PREFIX = "/v1/media/uploads/"
"""Resumable upload bytes (tus ``PATCH``): streamed into storage a part at a time, never held
whole, and bounded by the upload's own ``Upload-Length`` (``shared.media.resumable``); tus
clients send a whole file in one request unless told otherwise."""
STREAMED_UPLOAD = ("POST", "/v1/media")
"""A media upload in one request: streamed into storage as it arrives, bounded by its own
``media_max_upload_bytes`` (``services.api.media_form``), which is larger than this limit."""


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length up front or while
    streaming (chunked uploads), before any handler reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (scope["method"] == "PATCH" and scope["path"].startswith(STREAMED_BODY_PREFIX)) or (
            scope["method"],
            scope["path"].rstrip("/"),
        ) == STREAMED_UPLOAD:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, send)
            return
        if declared is None and _header(scope, b"transfer-encoding") is None:
            # No body at all (most GETs): nothing to count, so no wrappers on the way.
            await self.app(scope, receive, send)
            return
        received = 0
        too_large = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Frameworks turn a failed body read into their own 400; once the limit was hit,
            # the answer is our 413 instead, whatever the app tried to say.
            nonlocal replaced
            if too_large:
                if not replaced:
                    replaced = True
                    await self._too_large(scope, send)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not replaced:
                await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "/problems/payload_too_large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"request body is larger than {self.max_bytes} bytes; "
                "split it into smaller requests",
                "code": "payload_too_large",
                "instance": scope["path"],
                "request_id": scope.get("state", {}).get("request_id"),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
