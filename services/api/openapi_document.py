"""The OpenAPI document says every problem an operation can answer, in one place.

Routes list the problems of their own logic (``problems(403, 404, 409)``). The ones that come
from the app around them are added here, to every operation they concern, so a new route is
documented without anyone remembering to:

- 401: the operation takes a bearer token (a missing, expired or ended one);
- 402 and 429: the same: the agency's plan (read-only after its trial or subscription ended,
  or API keys not in it) and its API request limit are checked with the token;
- 404: the path names an object (it is not there, or is another agency's);
- 422: the operation takes parameters or a body. FastAPI documents its own
  ``HTTPValidationError`` as ``application/json``; the API answers ``application/problem+json``
  (``services.api.problems``), so that is what the document says;
- 413: the operation takes a body (``BodySizeLimitMiddleware``);
- 503: any operation, when the database or Redis is down (with ``Retry-After``).

Checked against the running API by ``tests/test_schemathesis.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.api.problems import PROBLEM_RESPONSE

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "options", "head", "trace"})


def _app_problems(operation: dict[str, Any]) -> set[int]:
    statuses = {503}
    parameters = operation.get("parameters", [])
    if operation.get("security"):
        statuses |= {401, 402, 429}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(413)
    return statuses


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def complete_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Add the app-wide problem answers to every operation of ``document`` (in place)."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status in sorted(_app_problems(operation)):
                current = responses.get(str(status))
                if current is None or _is_fastapi_validation_error(current):
                    responses[str(status)] = {**PROBLEM_RESPONSE}
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` answer the completed document (built once, like FastAPI's)."""
    generate = app.openapi
    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if not completed or completed[0] is not document:
            completed[:] = [complete_problems(document)]
        return completed[0]

    app.openapi = openapi  # type: ignore[method-assign]
