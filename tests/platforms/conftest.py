"""Contract-test helpers: a connector pointed at the running sandbox, and the browser's half
of OAuth (open the authorize URL, read the code off the redirect)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.config import Settings
from shared.crypto import Sealed
from shared.http import OutboundHttp
from shared.platforms.base import Connector
from shared.platforms.errors import ErrorKind, PlatformError
from shared.platforms.types import AccountAuth, AppCredentials, Grant

REDIRECT_URI = "https://chorus.test/v1/oauth/callback"

C = TypeVar("C", bound=Connector)


@pytest.fixture
async def make_connector(
    sandbox: httpx.AsyncClient, sandbox_url: str, settings: Settings
) -> AsyncIterator[Callable[..., Any]]:
    """``make_connector(FacebookConnector)``: built with sandbox credentials; the sandbox is
    reset after the test (the ``sandbox`` fixture). ``read_timeout=0.5`` gives it an HTTP
    client that stops waiting for answers sooner (to see ``ambiguous`` outcomes quickly)."""
    clients: list[OutboundHttp] = []

    def build(cls: type[C], *, read_timeout: float | None = None) -> C:
        tuned = settings
        if read_timeout is not None:
            tuned = settings.model_copy(
                update={
                    "outbound_read_timeout_seconds": read_timeout,
                    "outbound_total_timeout_seconds": read_timeout + 5,
                }
            )
        http = OutboundHttp(tuned)
        clients.append(http)
        app = AppCredentials(f"chorus-test-{cls.platform}", Sealed("test-secret"))
        return cls(app, sandbox_url=sandbox_url, http=http)

    yield build
    for http in clients:
        await http.close()


async def consent(
    connector: Connector, *, state: str = "st-1", **extra: str
) -> tuple[str, str | None]:
    """Open the authorize URL like a browser that clicks Allow; the code it comes back with
    and the PKCE verifier to exchange it with. ``extra`` adds query parameters (the sandbox's
    ``sandbox_deny=1``)."""
    request = connector.authorize_url(state, REDIRECT_URI)
    async with httpx.AsyncClient(timeout=30) as browser:
        answer = await browser.get(httpx.URL(request.url).copy_merge_params(extra))
    assert answer.status_code in (302, 303), answer.text
    back = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    assert back.get("state") == state
    assert "code" in back, back
    return back["code"], request.code_verifier


async def connect(connector: Connector) -> Grant:
    code, verifier = await consent(connector)
    return await connector.exchange_code(code, REDIRECT_URI, verifier)


def auth_for(grant: Grant, index: int = 0) -> AccountAuth:
    """The credentials of the ``index``-th account the user could pick."""
    choice = grant.choices[index]
    return AccountAuth(
        external_id=choice.external_id,
        access_token=choice.access_token or grant.tokens.access_token,
        extra=dict(choice.extra),
    )


async def set_faults(sandbox: httpx.AsyncClient, platform: str, **config: Any) -> None:
    r = await sandbox.put(f"/_sandbox/faults/{platform}", json=config)
    assert r.status_code == 200, r.text


async def expect(kind: ErrorKind, call: Awaitable[Any]) -> PlatformError:
    """Await ``call``; it must fail with a platform error of ``kind``, which is returned."""
    with pytest.raises(PlatformError) as caught:
        await call
    assert caught.value.kind is kind, repr(caught.value)
    return caught.value
