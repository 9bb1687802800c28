from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from shared.config import Settings
from shared.http import (
    BlockedDestination,
    OutboundConnectionError,
    OutboundHttp,
    OutboundTimeout,
    ResponseTooLarge,
    Timeouts,
    address_block_reason,
)
from shared.http.ssrf import GuardedResolver, parse_allow_hosts

FAST = Timeouts(connect=0.5, read=0.5, total=5)


def _http(allow: str = "") -> OutboundHttp:
    return OutboundHttp(Settings(outbound_allow_hosts=allow))


@contextlib.asynccontextmanager
async def _server(app: web.Application) -> AsyncIterator[int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


def _app(other_port: int = 1) -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ua": request.headers.get("User-Agent", "")})

    async def to_other_port(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{other_port}/hello")

    async def to_metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_localhost(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{request.url.port}/hello")

    async def to_hello(request: web.Request) -> web.Response:
        raise web.HTTPFound("/hello")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/to-other-port", to_other_port)
    app.router.add_get("/to-metadata", to_metadata)
    app.router.add_get("/to-localhost", to_localhost)
    app.router.add_get("/to-hello", to_hello)
    app.router.add_get("/big", big)
    return app


BLOCKED_URLS = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://2130706433/",
    "http://127.1/",
    "https://localhost:8443/hook",
]


@pytest.mark.parametrize("url", BLOCKED_URLS)
async def test_customer_urls_to_internal_addresses_are_refused(url: str) -> None:
    http = _http()
    try:
        with pytest.raises(BlockedDestination) as caught:
            await http.fetch("GET", url, customer_url=True, timeouts=FAST)
    finally:
        await http.close()
    assert not caught.value.request_sent
    assert caught.value.reason


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://h:70/"])
async def test_non_http_schemes_are_refused(url: str) -> None:
    http = _http()
    try:
        with pytest.raises(BlockedDestination, match="scheme"):
            await http.fetch("GET", url, customer_url=True)
    finally:
        await http.close()


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::a00:1", True),
        ("2002:7f00:1::", True),
        ("255.255.255.255", True),
        ("198.18.0.1", True),
    ],
)
def test_address_rules(address: str, blocked: bool) -> None:
    assert (address_block_reason(ipaddress.ip_address(address)) is not None) is blocked


async def test_allow_list_lets_exactly_that_host_and_port_through() -> None:
    async with _server(_app()) as port, _server(_app()) as other:
        http = _http(allow=f"127.0.0.1:{port}")
        try:
            answer = await http.fetch(
                "GET", f"http://127.0.0.1:{port}/hello", customer_url=True, timeouts=FAST
            )
            assert answer.status == 200
            assert answer.json()["ua"].startswith("Chorus/")
            for refused in (
                f"http://127.0.0.1:{other}/hello",  # same host, another port
                f"http://localhost:{port}/hello",  # same port, another name
            ):
                with pytest.raises(BlockedDestination):
                    await http.fetch("GET", refused, customer_url=True, timeouts=FAST)
        finally:
            await http.close()


async def test_allow_listed_host_name_resolves_to_the_checked_address() -> None:
    resolver = GuardedResolver(parse_allow_hosts("localhost:9"))
    results = await resolver.resolve("localhost", 9, socket.AF_INET)
    assert results
    for result in results:
        assert ipaddress.ip_address(result["host"]).is_loopback
        assert result["flags"] & socket.AI_NUMERICHOST
    with pytest.raises(BlockedDestination, match="loopback"):
        await resolver.resolve("localhost", 10, socket.AF_INET)


async def test_trusted_urls_are_not_guarded() -> None:
    async with _server(_app()) as port:
        http = _http()
        try:
            answer = await http.fetch("GET", f"http://127.0.0.1:{port}/hello", customer_url=False)
            assert answer.status == 200
        finally:
            await http.close()


@pytest.mark.parametrize("path", ["/to-other-port", "/to-metadata", "/to-localhost"])
async def test_redirects_are_checked_at_every_hop(path: str) -> None:
    async with _server(_app()) as other, _server(_app(other_port=other)) as port:
        http = _http(allow=f"127.0.0.1:{port}")
        try:
            url = f"http://127.0.0.1:{port}{path}"
            with pytest.raises(BlockedDestination):
                await http.fetch("GET", url, customer_url=True, follow_redirects=True)
            not_followed = await http.fetch("GET", url, customer_url=True)
            assert not_followed.status == 302
        finally:
            await http.close()


async def test_allowed_redirect_is_followed_when_asked() -> None:
    async with _server(_app()) as port:
        http = _http(allow=f"127.0.0.1:{port}")
        try:
            answer = await http.fetch(
                "GET", f"http://127.0.0.1:{port}/to-hello", customer_url=True, follow_redirects=True
            )
            assert answer.status == 200
            assert answer.url.path == "/hello"
        finally:
            await http.close()


async def test_answers_beyond_the_size_limit_are_refused() -> None:
    async with _server(_app()) as port:
        http = _http()
        try:
            with pytest.raises(ResponseTooLarge):
                await http.fetch(
                    "GET", f"http://127.0.0.1:{port}/big", customer_url=False, max_bytes=1000
                )
        finally:
            await http.close()


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """Accepts, reads the request, never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.read()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def _full_backlog() -> Iterator[int]:
    """A listener whose accept queue is full, so new connections hang in the handshake."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_read_timeout_means_the_request_may_have_been_processed() -> None:
    async with _silent_server() as port:
        http = _http()
        try:
            with pytest.raises(OutboundTimeout) as caught:
                await http.fetch(
                    "POST", f"http://127.0.0.1:{port}/publish", customer_url=False, timeouts=FAST
                )
        finally:
            await http.close()
    assert caught.value.phase == "read"
    assert caught.value.request_sent
    assert caught.value.ambiguous


async def test_connect_timeout_means_the_request_was_never_sent() -> None:
    with _full_backlog() as port:
        http = _http()
        try:
            with pytest.raises(OutboundTimeout) as caught:
                await http.fetch(
                    "POST", f"http://127.0.0.1:{port}/publish", customer_url=False, timeouts=FAST
                )
        finally:
            await http.close()
    assert caught.value.phase == "connect"
    assert not caught.value.request_sent


async def test_refused_connection_was_never_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = _http()
    try:
        with pytest.raises(OutboundConnectionError) as caught:
            await http.fetch("GET", f"http://127.0.0.1:{port}/", customer_url=False, timeouts=FAST)
    finally:
        await http.close()
    assert not caught.value.request_sent


async def test_messages_never_carry_the_query_string() -> None:
    http = _http()
    try:
        with pytest.raises(BlockedDestination) as caught:
            await http.fetch("GET", "http://10.0.0.1/cb?access_token=SECRET123", customer_url=True)
    finally:
        await http.close()
    assert "SECRET123" not in str(caught.value)
    assert "10.0.0.1" in str(caught.value)


async def test_each_event_loop_has_its_own_sessions_and_closes_only_those() -> None:
    """An app served from another thread (its own loop) shares the process-wide client: its
    shutdown must not close, or drop, the main loop's session, nor the other way round."""
    http = _http()
    mine = http.session()
    other_loop = asyncio.new_event_loop()
    try:

        async def use_then_close_elsewhere() -> tuple[bool, bool]:
            theirs = http.session()
            assert theirs is not mine
            await http.close()  # that loop's shutdown
            return theirs.closed, mine.closed

        theirs_closed, mine_closed = await asyncio.to_thread(
            other_loop.run_until_complete, use_then_close_elsewhere()
        )
    finally:
        other_loop.close()
    assert theirs_closed
    assert not mine_closed
    assert http.session() is mine  # still this loop's, still open
    assert not http.idle
    await http.close()
    assert mine.closed
    assert http.idle
