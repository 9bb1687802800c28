"""Request helpers shared by the platform routers."""

from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import Request

from services.sandbox.state import CLIENT_REF_HEADER, Sandbox


def sandbox(request: Request) -> Sandbox:
    box: Sandbox = request.app.state.sandbox
    return box


def client_ref(request: Request) -> str | None:
    return request.headers.get(CLIENT_REF_HEADER) or None


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))
