"""A real SMTP server for the mail tests (aiosmtpd, in the test's own event loop): it keeps
what it accepted, and can require STARTTLS and AUTH, answer with a chosen reply, or hold a
mail's DATA until the test lets it go; and a burst worker to deliver through it."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from arq.worker import Worker
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from services.worker import settings as worker_settings
from shared.config import Settings
from shared.jobs import QUEUE_NAME


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class Handler:
    reply: str = "250 OK"
    received: list[Received] = field(default_factory=list)
    hold: asyncio.Event | None = None
    """When set: each DATA waits for this event (``data_started`` says one is waiting)."""
    data_started: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_started.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.reply.startswith("250"):
            auth: Any = session.auth_data
            login = auth.login.decode() if session.authenticated else None
            transport: Any = server.transport
            raw = envelope.original_content or b""
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                Received(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=parsed,
                    tls=transport.get_extra_info("ssl_object") is not None,
                    login=login,
                )
            )
        return self.reply


class Authenticator:
    def __init__(self, login: str, password: str) -> None:
        self.login, self.password = login.encode(), password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.login
            and data.password == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files in ``directory``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SmtpServer:
    """``async with SmtpServer(handler) as server:`` listens on ``server.port`` meanwhile."""

    def __init__(
        self,
        handler: Handler,
        *,
        port: int = 0,
        certificate: tuple[Path, Path] | None = None,
        credentials: tuple[str, str] | None = None,
        implicit_tls: bool = False,
    ) -> None:
        """With ``certificate``: STARTTLS required, or TLS from the first byte
        (``implicit_tls``); with ``credentials`` (login, password): AUTH required."""
        self.handler = handler
        self.port = port
        self._certificate = certificate
        self._credentials = credentials
        self._implicit_tls = implicit_tls
        self._server: asyncio.Server | None = None

    def _tls(self) -> ssl.SSLContext | None:
        if self._certificate is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self._certificate)
        return context

    def _protocol(self) -> SMTP:
        kwargs: dict[str, Any] = {"hostname": "localhost", "loop": asyncio.get_running_loop()}
        if self._certificate is not None and not self._implicit_tls:
            kwargs |= {"tls_context": self._tls(), "require_starttls": True}
        if self._credentials is not None:
            kwargs |= {"auth_required": True, "authenticator": Authenticator(*self._credentials)}
        return SMTP(self.handler, **kwargs)

    async def __aenter__(self) -> SmtpServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            "127.0.0.1",
            self.port,
            ssl=self._tls() if self._implicit_tls else None,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


def smtp_settings(settings: Settings, port: int, **changes: Any) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"} | changes
    )


async def run_worker(app: FastAPI, settings: Settings) -> int:
    """Runs every queued job once (a burst worker); returns how many completed."""

    async def startup(ctx: dict[str, Any]) -> None:
        await worker_settings.startup(ctx, settings, start_loops=False)

    worker = Worker(
        functions=worker_settings.build_functions(),
        redis_pool=app.state.redis,
        queue_name=QUEUE_NAME,
        on_startup=startup,
        on_shutdown=worker_settings.shutdown,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker_settings.shutdown(worker.ctx)
    return worker.jobs_complete
