"""Request checks every route gets, before its own validation: input PostgreSQL cannot store.

PostgreSQL refuses U+0000 in ``text`` and ``jsonb`` and integers beyond ``bigint``, and
JSON has no NaN or infinity to store or answer them with (Python's parser lets ``NaN``,
``Infinity`` and ``1e400`` through). Left alone, such input is a 500 (or, in a streamed
export, a 200 cut off mid-body). Here it is a 422 naming the field, in the same shape as
every other validation error, for the JSON or form body, the query string and the path of
every route at once (an app-wide dependency). CSV and multipart uploads are the location
import's to check, row by row.

It also turns on the check of media URLs given as input (``shared.fieldtypes.MediaUrl``), and
answers a query parameter the operation does not take with a 400 naming it and the ones it
does take (a misspelt ``brandid=`` or ``sort_by=`` silently ignored answers a list that looks
right and is not), from the parameters FastAPI itself reads for the route, so a new route
or parameter is covered without a list to keep.

Cheap for ordinary requests: the JSON body is only walked when its bytes hold a ``\\u0000``
escape, a run of 19 digits, ``NaN``/``Infinity`` or a three-digit exponent, which is what
these inputs look like on the wire."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts

from services.api.problems import PROBLEM_RESPONSE
from shared.config import Settings
from shared.errors import BadRequest, FieldProblem
from shared.fieldtypes import check_media_urls
from shared.http.client import sandbox_host
from shared.http.ssrf import HostPort, parse_allow_hosts

NUL = "\x00"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_SUSPECT_JSON = re.compile(rb"\\u0000|\d{19}|Infinity|NaN|[eE][+-]?\d{3}")
_NUL_MESSAGE = "must not contain the NUL character (U+0000)"
_FLOAT_MESSAGE = "must be a finite number (not NaN, Infinity or beyond 1.8e308)"
_BIG_INT_MESSAGE = f"must be an integer between {INT64_MIN} and {INT64_MAX}"


def _name(key: str) -> str:
    return key.replace(NUL, "\\u0000")


def _error(loc: tuple[str | int, ...], message: str, code: str, value: Any) -> dict[str, Any]:
    shown = value.replace(NUL, "\\u0000")[:100] if isinstance(value, str) else value
    return {"loc": loc, "msg": message, "type": code, "input": shown}


def _walk(value: Any, loc: tuple[str | int, ...], errors: list[dict[str, Any]]) -> None:
    if isinstance(value, str):
        if NUL in value:
            errors.append(_error(loc, _NUL_MESSAGE, "string_contains_nul", value))
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            errors.append(_error(loc, _BIG_INT_MESSAGE, "int_out_of_range", str(value)[:40]))
    elif isinstance(value, float):
        if not math.isfinite(value):
            errors.append(_error(loc, _FLOAT_MESSAGE, "float_not_finite", str(value)))
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                errors.append(_error((*loc, _name(key)), _NUL_MESSAGE, "key_contains_nul", key))
            _walk(item, (*loc, _name(key)), errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*loc, index), errors)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def storable_problems(
    *, body: bytes | None, query: list[tuple[str, str]], path: dict[str, Any]
) -> list[dict[str, Any]]:
    """The errors (pydantic's shape) for input the database cannot store, or []."""
    errors: list[dict[str, Any]] = []
    for name, value in path.items():
        if isinstance(value, str) and NUL in value:
            errors.append(_error(("path", name), _NUL_MESSAGE, "string_contains_nul", value))
    for name, value in query:
        if NUL in name:
            errors.append(_error(("query", _name(name)), _NUL_MESSAGE, "key_contains_nul", name))
        elif NUL in value:
            errors.append(_error(("query", name), _NUL_MESSAGE, "string_contains_nul", value))
    if body and _SUSPECT_JSON.search(body):
        try:
            parsed = json.loads(body)
        except ValueError:
            return errors  # the route's own parsing answers 422 json_invalid
        _walk(parsed, ("body",), errors)
    return errors


def _media_allow(request: Request) -> frozenset[HostPort]:
    allow: frozenset[HostPort] | None = getattr(request.app.state, "media_url_allow", None)
    if allow is None:
        settings: Settings = request.app.state.settings
        allow = parse_allow_hosts(settings.outbound_allow_hosts) | sandbox_host(settings)
        request.app.state.media_url_allow = allow
    return allow


FREE_FORM_QUERY: dict[tuple[str, str], str] = {
    ("GET", "/v1/social-accounts/oauth/callback"): "the platform, not our client, builds this "
    "URL, and platforms add parameters of their own (Google `scope`, `authuser`, `hd`, "
    "`prompt`; Facebook `error_reason`; others as they please)",
    ("GET", "/approval-link"): "a page a client opens from an e-mail; mail services' link "
    "tracking may append `utm_*` and the like, and a person cannot mend the URL",
    ("GET", "/reset-password"): "the page a password-reset mail links to, as /approval-link",
    ("GET", "/accept-invitation"): "the page an invitation mail links to, as /approval-link",
    ("GET", "/forgot-password"): "a page (linked from the two above) that reads no parameter: "
    "a browser shows it rather than a JSON 400",
}
"""Operations that take query parameters they do not declare, and why: the only ones."""


@dataclass(frozen=True, slots=True)
class QueryRule:
    """What one operation takes in its query string."""

    method_path: str
    accepted: frozenset[str]
    free_form: bool


def _rules(app: Any) -> dict[tuple[int, str], QueryRule]:
    """Per (route's id, method): the query parameter names FastAPI reads for it (aliases as sent,
    its dependencies', the router's and the app's too), computed once per app."""
    rules: dict[tuple[int, str], QueryRule] | None = getattr(app.state, "query_rules", None)
    if rules is None:
        rules = {}
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or context.dependant is None:
                continue
            accepted = frozenset(
                field.alias
                for field in get_flat_params(context.dependant)
                if isinstance(field.field_info, params.Query)
            )
            for method in context.methods or ():
                rules[id(route), method] = QueryRule(
                    f"{method} {context.path}",
                    accepted,
                    (method, context.path) in FREE_FORM_QUERY,
                )
        app.state.query_rules = rules
    return rules


def refuse_unknown_query(request: Request) -> None:
    """400 ``unknown_query_parameter`` naming each query parameter the operation does not
    take, and listing those it does."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    rule = _rules(request.app).get((id(route), request.method))
    if rule is None or rule.free_form:
        return
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in rule.accepted]
    if not unknown:
        return
    takes = (
        "it takes " + ", ".join(f"`{name}`" for name in sorted(rule.accepted))
        if rule.accepted
        else "it takes no query parameters"
    )
    names = ", ".join(f"`{_name(name)}`" for name in unknown)
    noun = "parameter" if len(unknown) == 1 else "parameters"
    raise BadRequest(
        f"unknown query {noun} {names} for {rule.method_path}; {takes}",
        code="unknown_query_parameter",
        errors=[
            FieldProblem(
                f"query.{_name(name)}",
                f"not a parameter of this operation; {takes}",
                "unknown_query_parameter",
            )
            for name in unknown
        ],
        extra={"accepted": sorted(rule.accepted)},
    )


def document_unknown_query(app: FastAPI) -> None:
    """The OpenAPI document shows the 400 ``refuse_unknown_query`` answers on every
    operation that has query parameters (those taking free-form ones excepted)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if (method.upper(), path) in FREE_FORM_QUERY or not isinstance(operation, dict):
                    continue
                if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                    operation.setdefault("responses", {}).setdefault("400", {**PROBLEM_RESPONSE})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def refuse_unstorable_input(request: Request) -> None:
    """App-wide dependency: 422 for U+0000 anywhere in the path, query or JSON/form body, and
    for JSON integers beyond ``bigint`` and non-finite JSON numbers; and media URLs in this
    request's input are checked (``shared.fieldtypes.media_url``: https to a public host, or
    the configured sandbox); then a query parameter the operation does not take is a 400
    (``refuse_unknown_query``)."""
    check_media_urls(_media_allow(request))
    # Only bodies FastAPI parses into the route's parameters: a route reading its raw body
    # (the location import, the Stripe webhook) checks it itself and answers in its own terms.
    parsed_body = getattr(request.scope.get("route"), "body_field", None) is not None
    kind = _content_type(request) if parsed_body else ""
    body = await request.body() if _is_json(kind) else None
    errors = storable_problems(
        body=body, query=request.query_params.multi_items(), path=request.path_params
    )
    if kind == "application/x-www-form-urlencoded":
        form = await request.form()  # parsed (and kept) by FastAPI already for Form routes
        errors += [
            _error(("body", _name(name)), _NUL_MESSAGE, "string_contains_nul", value)
            for name, value in form.multi_items()
            if isinstance(value, str) and (NUL in name or NUL in value)
        ]
    if errors:
        raise RequestValidationError(errors)
    refuse_unknown_query(request)
