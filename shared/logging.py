"""structlog set-up: JSON lines with the request id and agency id bound per request or job."""

from __future__ import annotations

import json as stdlib_json
import logging
import sys
from typing import Any

import orjson
import structlog


def _orjson_dumps(value: Any, **kwargs: Any) -> str:
    """The API writes a line per request; the standard library's json.dumps was a third of
    that line's cost. Compact, UTF-8 rather than \\u escapes; anything orjson refuses (an
    integer beyond 64 bits) is written by json.dumps as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, **kwargs).decode()
    except TypeError:
        return stdlib_json.dumps(value, **kwargs)


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    # arq's CLI gives its logger a handler of its own; without this every line prints twice.
    arq_logger = logging.getLogger("arq")
    if arq_logger.handlers:
        arq_logger.propagate = False
