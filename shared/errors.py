"""The one error family: every expected failure is an ``AppError``, rendered as RFC 9457."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One problem with one field; ``field`` is a dotted path such as ``body.time_zone``."""

    field: str
    message: str
    code: str = "invalid"
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"field": self.field, "message": self.message, "code": self.code}
        if self.line is not None:
            data["line"] = self.line
        return data


class AppError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    keep_changes: ClassVar[bool] = False
    """True when the work done before the error must still be committed (e.g. revoking a
    token family on reuse): the transaction boundary commits, then answers the error."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = code or self.code
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    title = "Authentication required"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    title = "Not permitted"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_failed"
    title = "Validation failed"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_seconds))})


class UpstreamFailed(AppError):
    """A platform (or another service Chorus calls) refused or failed; ``extra`` says which
    and how (the platform error kind)."""

    status_code = 502
    code = "platform_error"
    title = "The platform did not accept this"


class NotConfigured(AppError):
    status_code = 503
    code = "not_configured"
    title = "Not available on this installation"
