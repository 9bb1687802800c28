"""Request helpers shared by the platform routers."""

from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import RedirectResponse

from services.sandbox.state import CLIENT_REF_HEADER, AuthCode, PlatformState, Sandbox, new_code


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


def consent_redirect(
    box: Sandbox,
    state: PlatformState,
    back: dict[str, str],
    *,
    client_id: str,
    redirect_uri: str,
    user_id: str,
    scopes: tuple[str, ...],
    code_challenge: str | None = None,
    code_challenge_method: str | None = None,
) -> RedirectResponse:
    """The consent page said yes: a fresh single-use code, sent back to ``redirect_uri`` with
    what ``back`` already holds (the ``state``)."""
    code = state.issue_code(
        AuthCode(
            code=new_code(),
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_id=user_id,
            expires_at=box.clock.now() + box.config.auth_code_ttl_s,
            scopes=scopes,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
        )
    )
    return RedirectResponse(with_query(redirect_uri, {**back, "code": code.code}), status_code=302)
