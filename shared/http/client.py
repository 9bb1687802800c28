"""The process's outbound HTTP: shared aiohttp sessions, timeouts on every call, SSRF guard.

Two sessions, created lazily on first use and closed by :func:`close` at shutdown:

- *trusted*, for URLs the operator configured (platform API base URLs, the sandbox);
- *guarded*, for any URL a customer gave us (webhooks, media, redirect targets): its
  connector resolves through :class:`~shared.http.ssrf.GuardedResolver`, keeps no DNS cache,
  and sends no cookies, so nothing learnt for one customer is reused for another.

They are separate connectors on purpose: a pooled keep-alive connection or a cached DNS answer
of a trusted host must never serve a customer URL that names the same host.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from shared.config import Settings, get_settings
from shared.http.errors import (
    BlockedDestination,
    OutboundConnectionError,
    OutboundTimeout,
    ResponseTooLarge,
    TooManyRedirects,
)
from shared.http.ssrf import GuardedResolver, check_destination, destination, parse_allow_hosts

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")


@dataclass(frozen=True)
class Timeouts:
    """``connect`` covers waiting for a pooled slot, DNS, TCP and TLS; ``read`` is the longest
    silence once the request is out; ``total`` caps the whole exchange, body included."""

    connect: float
    read: float
    total: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            connect=settings.outbound_connect_timeout_seconds,
            read=settings.outbound_read_timeout_seconds,
            total=settings.outbound_total_timeout_seconds,
        )

    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.total, connect=self.connect, sock_connect=self.connect, sock_read=self.read
        )


@dataclass(frozen=True)
class Response:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: URL

    @property
    def ok(self) -> bool:
        return self.status < 400

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding, errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class _Progress:
    """Whether this request got a connection, i.e. may have been (partly) written."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


async def _on_connection(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    progress = context.trace_request_ctx
    if isinstance(progress, _Progress):
        progress.connected = True


def _trace_config() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_on_connection)
    trace.on_connection_reuseconn.append(_on_connection)
    return trace


def redact(url: URL) -> str:
    """The URL without credentials, query or fragment, for messages and logs."""
    if not url.absolute or url.host is None:
        return f"{url.scheme}:{url.path}"
    return str(url.with_user(None).with_query(None).with_fragment(None))


def sandbox_host(settings: Settings) -> frozenset[tuple[str, int]]:
    """The configured platform sandbox may be reached by customer URLs (media it serves)."""
    if not settings.platform_sandbox_url:
        return frozenset()
    url = URL(settings.platform_sandbox_url)
    if url.host is None or url.port is None:
        return frozenset()
    return frozenset({(url.host.lower(), url.port)})


class OutboundHttp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeouts = Timeouts.from_settings(settings)
        self.allow = parse_allow_hosts(settings.outbound_allow_hosts) | sandbox_host(settings)
        self._sessions: dict[tuple[bool, asyncio.AbstractEventLoop], aiohttp.ClientSession] = {}

    def session(self, *, customer_url: bool = False) -> aiohttp.ClientSession:
        """The shared session for that kind of URL; call from inside the event loop.

        Each event loop has sessions of its own: the process-wide client can serve several
        loops (an app run by another server in the same process, a test's loop), and a session
        used or closed from a loop other than its own fails."""
        key = (customer_url, asyncio.get_running_loop())
        held = self._sessions.get(key)
        if held is None or held.closed:
            held = self._sessions[key] = self._new_session(guarded=customer_url)
        return held

    def _new_session(self, *, guarded: bool) -> aiohttp.ClientSession:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.outbound_max_connections,
            limit_per_host=s.outbound_max_connections_per_host,
            resolver=GuardedResolver(self.allow) if guarded else None,
            use_dns_cache=not guarded,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeouts.client_timeout(),
            headers={"User-Agent": s.outbound_user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            trace_configs=[_trace_config()],
            raise_for_status=False,
        )

    async def close(self) -> None:
        """Close the running loop's sessions; other loops' stay for their own shutdown."""
        loop = asyncio.get_running_loop()
        for key in [k for k in self._sessions if k[1] is loop or k[1].is_closed()]:
            session = self._sessions.pop(key)
            if key[1] is loop and not session.closed:
                await session.close()

    @property
    def idle(self) -> bool:
        """No session left open in any loop."""
        return not self._sessions

    async def fetch(
        self,
        method: str,
        url: str | URL,
        *,
        customer_url: bool,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        json: Any = None,
        data: bytes | str | dict[str, str] | None = None,
        timeouts: Timeouts | None = None,
        follow_redirects: bool = False,
        max_redirects: int = 5,
        max_bytes: int | None = None,
    ) -> Response:
        """Send one request and read the whole answer (up to ``max_bytes``).

        Any status is returned as a :class:`Response`; only failures to get one raise
        (:class:`BlockedDestination`, :class:`OutboundTimeout`,
        :class:`OutboundConnectionError`, :class:`ResponseTooLarge`, :class:`TooManyRedirects`).
        Redirects are not followed unless asked; when they are, every hop is checked again
        like the first, a 303 (or 301/302 after POST) becomes a body-less GET, and
        credentials are dropped when the origin changes.
        """
        target = URL(url) if isinstance(url, str) else url
        if params:
            target = target.extend_query(params)
        send_headers: CIMultiDict[str] = CIMultiDict(headers or {})
        limit = self.settings.outbound_max_response_bytes if max_bytes is None else max_bytes
        hops = 0
        while True:
            response = await self._send(
                method,
                target,
                customer_url=customer_url,
                headers=send_headers,
                json=json,
                data=data,
                timeouts=timeouts or self.timeouts,
                max_bytes=limit,
            )
            location = response.headers.get("Location")
            if not follow_redirects or response.status not in _REDIRECTS or not location:
                return response
            hops += 1
            if hops > max_redirects:
                raise TooManyRedirects(max_redirects, url=redact(target))
            next_target = target.join(URL(location))
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, json, data = "GET", None, None
            if next_target.origin() != target.origin():
                for name in _CREDENTIAL_HEADERS:
                    send_headers.popall(name, None)
            target = next_target

    async def _send(
        self,
        method: str,
        target: URL,
        *,
        customer_url: bool,
        headers: CIMultiDict[str],
        json: Any,
        data: bytes | str | dict[str, str] | None,
        timeouts: Timeouts,
        max_bytes: int,
    ) -> Response:
        shown = redact(target)
        try:
            if customer_url:
                check_destination(target, self.allow)
            else:
                destination(target)
        except BlockedDestination as exc:
            raise BlockedDestination(exc.reason, url=shown) from None
        progress = _Progress()
        session = self.session(customer_url=customer_url)
        try:
            async with session.request(
                method,
                target,
                headers=headers,
                json=json,
                data=data,
                allow_redirects=False,
                timeout=timeouts.client_timeout(),
                trace_request_ctx=progress,
            ) as answer:
                body = await _read_capped(answer, max_bytes, shown)
                return Response(answer.status, answer.headers, body, target)
        except BlockedDestination as exc:
            raise BlockedDestination(exc.reason, url=shown) from None
        except TimeoutError as exc:
            connect_phase = isinstance(exc, aiohttp.ConnectionTimeoutError) or not (
                progress.connected
            )
            raise OutboundTimeout("connect" if connect_phase else "read", url=shown) from None
        except aiohttp.ClientConnectorError as exc:
            raise OutboundConnectionError(
                f"could not connect ({type(exc).__name__})", url=shown, request_sent=False
            ) from None
        except aiohttp.ClientError as exc:
            raise OutboundConnectionError(
                f"connection failed ({type(exc).__name__})",
                url=shown,
                request_sent=progress.connected,
            ) from None


async def _read_capped(answer: aiohttp.ClientResponse, limit: int, shown: str) -> bytes:
    if answer.content_length is not None and answer.content_length > limit:
        raise ResponseTooLarge(limit, url=shown)
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(limit, url=shown)
        chunks.append(chunk)
    return b"".join(chunks)


_client: OutboundHttp | None = None


def get_client() -> OutboundHttp:
    """The process-wide client, built from the settings on first use."""
    global _client
    if _client is None:
        _client = OutboundHttp(get_settings())
    return _client


def get_session(*, customer_url: bool = False) -> aiohttp.ClientSession:
    return get_client().session(customer_url=customer_url)


async def fetch(method: str, url: str | URL, *, customer_url: bool, **options: Any) -> Response:
    """:meth:`OutboundHttp.fetch` on the process-wide client."""
    return await get_client().fetch(method, url, customer_url=customer_url, **options)


async def close() -> None:
    """Close the process-wide sessions; call from the API lifespan and worker shutdown."""
    global _client
    if _client is not None:
        await _client.close()
        if _client.idle:
            _client = None
