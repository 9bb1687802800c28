"""RFC 9457 problem+json for every error the API answers, from one place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.errors import AppError

log = structlog.get_logger("chorus.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not permitted"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    if extra:
        # The members RFC 9457 defines keep their meaning: ``status`` is the HTTP status.
        body.update({key: value for key, value in extra.items() if key not in body})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem(
        request,
        status=exc.status_code,
        code=exc.error_code,
        title=exc.title,
        detail=exc.message,
        errors=[e.as_dict() for e in exc.errors],
        headers=exc.headers,
        extra=exc.extra,
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid value"))
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        errors.append(
            {"field": _field_path(tuple(err["loc"])), "message": message, "code": err["type"]}
        )
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more problem(s), see errors)"
    return problem(
        request,
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail=detail,
        errors=errors,
    )


_UNREADABLE_BODY = "There was an error parsing the body"
"""FastAPI's 400 for a JSON body it cannot even decode (not UTF-8)."""


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path takes: Starlette's own 405 names only the methods
    of the first route matching the path, and a path may be served by several (GET and
    PATCH, say). Asked of the routes themselves, method by method."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = str(exc.detail)
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 400 and detail == _UNREADABLE_BODY:
        return await _validation_error(
            request,
            RequestValidationError(
                [{"loc": ("body",), "msg": "the body is not UTF-8 JSON", "type": "json_invalid"}]
            ),
        )
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no resource at {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem(
        request,
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        headers=headers or None,
    )


@dataclass(frozen=True, slots=True)
class Outage:
    """A dependency that is down, stuck or saturated: the request may well succeed later."""

    dependency: str
    detail: str
    retry_after_seconds: int


DATABASE_DOWN = Outage(
    "database", "Chorus cannot reach its database right now; retry in 5 seconds", 5
)
DATABASE_BUSY = Outage(
    "database",
    "every database connection is in use right now; retry in 2 seconds",
    2,
)
DATABASE_SLOW = Outage(
    "database",
    "the database did not finish this request in time; retry in 5 seconds, or ask for less "
    "at once (a smaller page, a narrower filter)",
    5,
)
REDIS_DOWN = Outage(
    "redis",
    "Chorus cannot reach its queue and rate-limit store (Redis) right now; retry in 5 seconds",
    5,
)
NO_ANSWER = Outage(
    "unknown",
    "a service Chorus depends on did not answer in time; retry in 5 seconds",
    5,
)

_OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
"""Connection exception, insufficient resources (too many connections, out of memory, disk
full), operator intervention (statement timeout, shutdown, the server still starting).
Deadlocks and serialization failures (class 40) are not outages."""
_QUERY_CANCELED = "57014"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )


def outage_of(exc: BaseException) -> Outage | None:
    """The outage behind an error (walking its causes), or None when it is something else.

    A SQLSTATE the server sent decides on its own: class 08/53/57 is an outage, anything
    else (a constraint, a deadlock, a bug) is not, whatever else the chain holds."""
    for error in _causes(exc):
        if isinstance(error, sa_exc.TimeoutError):
            return DATABASE_BUSY
        if isinstance(error, redis_errors.ConnectionError | redis_errors.TimeoutError):
            return REDIS_DOWN
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate == _QUERY_CANCELED:
                return DATABASE_SLOW
            return DATABASE_DOWN if sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES else None
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return DATABASE_DOWN
        if isinstance(error, sa_exc.OperationalError | asyncpg.ConnectionDoesNotExistError):
            return DATABASE_DOWN
        if isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error):
            return DATABASE_DOWN
    if any(isinstance(error, TimeoutError) for error in _causes(exc)):
        return NO_ANSWER
    return None


def _unavailable(request: Request, exc: BaseException, outage: Outage) -> JSONResponse:
    log.warning(
        "http.dependency_unavailable",
        path=request.url.path,
        dependency=outage.dependency,
        error=type(exc).__name__,
        reason=str(exc).splitlines()[0][:200] if str(exc) else "",
    )
    return problem(
        request,
        status=503,
        code="service_unavailable",
        title="Service unavailable",
        detail=outage.detail,
        headers={"Retry-After": str(outage.retry_after_seconds)},
    )


async def _dependency_error(request: Request, exc: Exception) -> JSONResponse:
    """Database and Redis errors: an outage answers 503 with ``Retry-After`` from here, the
    inner exception layer, so the response goes out like any other and the client's
    keep-alive connection stays open (an error reaching the outermost 500 handler is raised
    on to the server, which then closes the connection). Anything else is raised on, to be
    the 500 it always was."""
    outage = outage_of(exc)
    if outage is None:
        raise exc
    return _unavailable(request, exc, outage)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    outage = outage_of(exc)
    if outage is not None:
        return _unavailable(request, exc, outage)
    log.exception("http.unhandled_error", path=request.url.path)
    return problem(
        request,
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="something went wrong on our side; quote the request_id when reporting it",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for dependency_error in _DEPENDENCY_ERRORS:
        app.add_exception_handler(dependency_error, _dependency_error)
    app.add_exception_handler(Exception, _unexpected)


_DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    redis_errors.RedisError,
    TimeoutError,
)


PROBLEM_RESPONSE: dict[str, Any] = {
    "description": "A problem (RFC 9457)",
    "content": {
        PROBLEM_MEDIA_TYPE: {
            "schema": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "code": {"type": "string"},
                    "instance": {"type": "string"},
                    "request_id": {"type": "string"},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string"},
                                "message": {"type": "string"},
                                "code": {"type": "string"},
                                "line": {"type": "integer"},
                            },
                        },
                    },
                },
                "required": ["type", "title", "status", "detail", "code"],
            }
        }
    },
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the problem answers a route can give."""
    return dict.fromkeys(statuses, PROBLEM_RESPONSE)
