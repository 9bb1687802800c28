"""Refusing customer-supplied URLs that point inside our network (SSRF).

A URL is checked twice over: its scheme and literal host before the request
(:func:`check_destination`), and every address its host name resolves to inside the connector
(:class:`GuardedResolver`). The resolver hands aiohttp the numeric addresses it checked, so the
socket connects to exactly those: a DNS answer that changes between check and connect (DNS
rebinding) never reaches a socket.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from shared.http.errors import BlockedDestination

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
HostPort = tuple[str, int]

ALLOWED_SCHEMES = frozenset({"http", "https"})
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NUMERICISH = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*\.?$", re.IGNORECASE)


def address_block_reason(ip: IPAddress) -> str | None:
    """Why a customer URL may not reach ``ip``, or ``None`` when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _mapped(address_block_reason(ip.ipv4_mapped))
        embedded = ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = _mapped(address_block_reason(embedded))
            if inner is not None:
                return inner
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address (includes cloud metadata endpoints)"
    if ip.is_multicast:
        return "multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT (shared) address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "address that is not publicly routable"
    return None


def _mapped(reason: str | None) -> str | None:
    return None if reason is None else f"{reason} inside an IPv6 address"


def parse_allow_hosts(spec: str | Iterable[str]) -> frozenset[HostPort]:
    """``"127.0.0.1:9100,[::1]:9100,sandbox.local:443"`` → exact ``(host, port)`` pairs."""
    items = spec.split(",") if isinstance(spec, str) else spec
    pairs: set[HostPort] = set()
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        url = URL(f"http://{item}")
        if url.host is None or url.explicit_port is None:
            raise ValueError(f"allow-list entry {item!r} must be host:port")
        pairs.add((url.host.lower(), url.explicit_port))
    return frozenset(pairs)


def destination(url: URL) -> HostPort:
    """The ``(host, port)`` a URL connects to, after refusing what no URL may be."""
    if url.scheme not in ALLOWED_SCHEMES:
        raise BlockedDestination(f"scheme {url.scheme or '(none)'!r} is not http or https")
    if not url.host:
        raise BlockedDestination("the URL has no host")
    port = url.port
    if port is None:
        raise BlockedDestination("the URL has no port")
    return url.host.lower().rstrip("."), port


def check_destination(url: URL, allow: frozenset[HostPort]) -> None:
    """Refuse a customer URL whose scheme or literal address is off limits.

    Host names are checked again when resolved (:class:`GuardedResolver`); this catches IP
    literals, which aiohttp connects to without asking a resolver. Ports are not restricted:
    customers run webhook receivers on any port, and the address rules already keep every
    port of our own network out of reach.
    """
    host, port = destination(url)
    if (host, port) in allow:
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if _NUMERICISH.match(host):
            raise BlockedDestination(f"{host!r} is a non-canonical numeric address") from None
        return
    reason = address_block_reason(ip)
    if reason is not None:
        raise BlockedDestination(f"{host} is a {reason}")


class GuardedResolver(AbstractResolver):
    """Resolves through the event loop's ``getaddrinfo`` and refuses the whole host when any
    of its addresses is off limits (a mixed answer is how rebinding attacks hedge)."""

    def __init__(self, allow: frozenset[HostPort] = frozenset()) -> None:
        self._allow = allow

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        allowed = (host.lower().rstrip("."), port) in self._allow
        results: list[ResolveResult] = []
        seen: set[tuple[str, int]] = set()
        for fam, _, proto, _, sockaddr in infos:
            address = str(sockaddr[0])
            ip = ipaddress.ip_address(address)
            reason = None if allowed else address_block_reason(ip)
            if reason is not None:
                raise BlockedDestination(f"{host} resolves to a {reason} ({ip})")
            if (address, fam) in seen:
                continue
            seen.add((address, fam))
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=int(sockaddr[1]),
                    family=fam,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"{host} has no addresses")
        return results

    async def close(self) -> None:
        return None
