"""``python -m services.mailcatcher --smtp-port 8025 --http-port 8026 --host 127.0.0.1``:
runs until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

import structlog
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.mailcatcher.mailbox import Mailbox
from services.mailcatcher.web import create_app
from shared.logging import configure_logging

log = structlog.get_logger("chorus.mailcatcher")

MAX_MAIL_BYTES = 10 * 1024 * 1024


class Catcher:
    """aiosmtpd's handler: every mail is accepted and kept."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        caught = self.mailbox.add(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        log.info("mailcatcher.caught", id=caught.id, to=caught.recipients, subject=caught.subject)
        return "250 OK: caught"


async def serve(host: str, smtp_port: int, http_port: int, keep: int) -> None:
    loop = asyncio.get_running_loop()
    mailbox = Mailbox(keep)
    catcher = Catcher(mailbox)

    def protocol() -> SMTP:
        return SMTP(
            catcher,
            hostname="mailcatcher.localhost",
            data_size_limit=MAX_MAIL_BYTES,
            enable_SMTPUTF8=True,
            loop=loop,
        )

    smtp_server = await loop.create_server(protocol, host, smtp_port)
    runner = web.AppRunner(create_app(mailbox), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, http_port).start()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        log.info(
            "mailcatcher.listening",
            smtp=f"{host}:{smtp_port}",
            page=f"http://{host}:{http_port}/",
        )
        await stop.wait()
    finally:
        smtp_server.close()
        await runner.cleanup()
        with contextlib.suppress(Exception):
            await smtp_server.wait_closed()
    log.info("mailcatcher.stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.mailcatcher",
        description="A development SMTP server that shows the mail it receives on a web page.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of both servers")
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--http-port", type=int, default=8026)
    parser.add_argument("--keep", type=int, default=500, help="mails kept (the newest)")
    args = parser.parse_args(argv)
    configure_logging("INFO", json=False)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: every SMTP command
    asyncio.run(serve(args.host, args.smtp_port, args.http_port, args.keep))


if __name__ == "__main__":
    main()
