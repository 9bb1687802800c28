"""Readiness of ``make run``'s HTTP services: the service answered *as itself*.

Why not "something listens on the port": a port can be taken between our free-port check and
the child's bind (or a server on another interface of the same port can answer), and then a
listening socket says nothing about our child, which has usually just died of "address
already in use". Each service is asked a question only it answers that way (its own identity
route, or a route only localstripe serves); anything else answering is named in a clear error,
instead of the stack pretending to be ready.
"""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from services.devstack.errors import DevStackError
from services.devstack.ports import neighbour
from services.devstack.urls import LOOPBACK

PROBE_TIMEOUT = 2.0


class Answer(Enum):
    NOTHING = "nothing"  # nobody answers yet (refused, reset, timed out)
    OURS = "ours"
    OTHER = "other"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Identity:
    """How one service proves who it is: the request, and the test on the reply."""

    title: str
    path: str
    is_ours: Callable[[Reply, dict[str, str]], bool]
    headers: Callable[[], dict[str, str]] = field(default=dict)


def _json_service(name: str) -> Callable[[Reply, dict[str, str]], bool]:
    def check(reply: Reply, sent: dict[str, str]) -> bool:
        body = reply.json()
        return reply.status == 200 and isinstance(body, dict) and body.get("service") == name

    return check


def _api_headers() -> dict[str, str]:
    return {"X-Request-ID": f"devstack-identity-{secrets.token_hex(8)}"}


def _api_check(reply: Reply, sent: dict[str, str]) -> bool:
    """Chorus's API echoes the request id it was given; a stranger's /healthz does not."""
    return (
        reply.status == 200
        and reply.json() == {"status": "ok"}
        and reply.headers.get("x-request-id") == sent["X-Request-ID"]
    )


def _localstripe_check(reply: Reply, sent: dict[str, str]) -> bool:
    """localstripe serves its own stand-in for Stripe.js here; nothing else has that name."""
    return reply.status == 200 and b"LOCALSTRIPE_BASE_API" in reply.body


API = Identity("the API", "/healthz", _api_check, _api_headers)
SANDBOX = Identity("the platform sandbox", "/_sandbox/identity", _json_service("chorus-sandbox"))
STRIPE = Identity("local Stripe", "/js.stripe.com/v3/", _localstripe_check)
MAILCATCHER = Identity("the mail catcher", "/_identity", _json_service("chorus-mailcatcher"))


def probe(identity: Identity, port: int, host: str = LOOPBACK) -> tuple[Answer, str]:
    """Ask once. Returns what answered and, for a stranger, a short description of it."""
    sent = identity.headers()
    connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT)
    try:
        connection.connect()
    except OSError:
        connection.close()
        return Answer.NOTHING, ""
    try:
        connection.request("GET", identity.path, headers=sent)
        response = connection.getresponse()
        reply = Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(256 * 1024),
        )
    except (ConnectionError, TimeoutError):
        return Answer.NOTHING, ""
    except (http.client.HTTPException, OSError) as exc:
        # Something accepted the connection but did not speak HTTP as expected.
        return Answer.OTHER, f"a non-HTTP answer ({type(exc).__name__})"
    finally:
        connection.close()
    if identity.is_ours(reply, sent):
        return Answer.OURS, ""
    server = reply.headers.get("server", "")
    described = f"HTTP {reply.status}" + (f" from {server!r}" if server else "")
    return Answer.OTHER, f"{described} to GET {identity.path}"


def ready(identity: Identity, port: int, variable: str) -> Callable[[], bool]:
    """A readiness check for the supervisor: False until the service answers as itself;
    a `DevStackError` naming the port and the variable that moves it when another program
    answers there."""

    def check() -> bool:
        answer, description = probe(identity, port)
        if answer is Answer.OTHER:
            raise DevStackError(
                f"something other than {identity.title} answers on port {port} "
                f"({description}); stop that program or choose another port with "
                f"{variable}={neighbour(port)}"
            )
        return answer is Answer.OURS

    return check
