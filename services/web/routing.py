"""Every web router comes from ``web_router()``: HTML answers, out of the OpenAPI document,
and the CSRF check on every unsafe method (tests/web/test_security.py walks the routes)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from services.web.security import check_csrf


def web_router() -> APIRouter:
    return APIRouter(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[Depends(check_csrf)],
    )
