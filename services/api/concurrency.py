"""The last word on a deadlock or a serialization failure that reached the edge without being
retried (a route that does not go through ``shared.db.retry``): a 409 ``concurrent_update``
with ``Retry-After``, never a 500. The request's transaction has been rolled back by then,
so nothing of it was written and sending it again is safe.

Install after ``install_problem_handlers``: ``install_concurrency_handlers(app)``. Errors of
the same classes that are something else go on to the handler that was there for them.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from sqlalchemy import exc as sa_exc
from starlette.responses import Response

from shared.db import retry
from shared.errors import AppError

log = structlog.get_logger("chorus.api")

Handler = Callable[[Request, Any], Response | Awaitable[Response]]

_CLASSES: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)


def install_concurrency_handlers(app: FastAPI) -> None:
    for cls in _CLASSES:
        app.add_exception_handler(cls, _handler(app, cls))


def _handler(
    app: FastAPI, cls: type[Exception]
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def concurrency_error(request: Request, exc: Exception) -> Response:
        if retry.is_retryable(exc):
            log.warning(
                "http.concurrent_update", path=request.url.path, sqlstate=retry.sqlstate(exc)
            )
            error = retry.conflict_error(exc, 1, "this request")
            return await _call(app.exception_handlers[AppError], request, error)
        following = _next_handler(app, type(exc), after=cls)
        if following is None:
            raise exc
        return await _call(following, request, exc)

    return concurrency_error


def _next_handler(app: FastAPI, kind: type[Exception], *, after: type[Exception]) -> Handler | None:
    """The handler the error would have met without ours: the next class of its MRO past
    ``after`` that has one. ``Exception``'s is the outermost 500 handler's, which the error
    reaches by being raised on."""
    mro = kind.__mro__
    for cls in mro[mro.index(after) + 1 :]:
        if cls is Exception:
            return None
        handler: Handler | None = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None


async def _call(handler: Handler, request: Request, exc: Exception) -> Response:
    response = handler(request, exc)
    return await response if inspect.isawaitable(response) else response
