"""The development mail catcher (``python -m services.mailcatcher``), run as ``make run`` runs
it: a process of its own on free ports, spoken to over SMTP and HTTP only."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from fastapi import FastAPI

from shared.config import Settings
from shared.mail import message as mail_message
from shared.mail.models import OutboundEmail
from tests.factories import sign_up
from tests.support.smtp_server import free_port, run_worker, smtp_settings

ROOT = Path(__file__).resolve().parent.parent


class Catcher:
    def __init__(self, *extra: str) -> None:
        self.smtp_port, self.http_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        # A file, not a pipe: a pipe nobody reads fills up and blocks the catcher.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by its owner)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.mailcatcher",
                "--smtp-port",
                str(self.smtp_port),
                "--http-port",
                str(self.http_port),
                "--host",
                "127.0.0.1",
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/_identity", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the mail catcher did not start: {self.errors()}")
            time.sleep(0.05)

    def errors(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=self.smtp_port, timeout=10)

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            return await client.get(path)


@pytest.fixture(scope="module")
def catcher() -> Iterator[Catcher]:
    running = Catcher()
    yield running
    running.stop()
    try:
        assert running.process.returncode == 0, running.errors()
    finally:
        running.log.close()


@pytest.fixture(autouse=True)
def _empty_catcher(catcher: Catcher) -> None:
    assert httpx.delete(f"{catcher.url}/api/messages", timeout=5).status_code == 204


def chorus_mail(*, subject: str, body: str, to: str = "reader@example.org") -> EmailMessage:
    email = OutboundEmail(
        agency_id=uuid.uuid4(), id=uuid.uuid4(), to_address=to, subject=subject, body=body
    )
    return mail_message.build(email, sender="Chorus <mail@chorus.example>", now=datetime.now(UTC))


def text_only(subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", subject
    message.set_content(body)
    return message


async def test_the_catcher_says_who_it_is(catcher: Catcher) -> None:
    response = await catcher.get("/_identity")
    assert response.json() == {"service": "chorus-mailcatcher"}


async def test_caught_mail_is_listed_newest_first_with_both_parts(catcher: Catcher) -> None:
    link = "http://127.0.0.1:8000/accept-invitation?token=abc.def&x=1"
    await catcher.send(chorus_mail(subject="You are invited", body=f"Accept: {link}\n"))
    await catcher.send(text_only("Second", "Just text.\n"))

    mails = (await catcher.get("/api/messages")).json()
    assert [m["subject"] for m in mails] == ["Second", "You are invited"]
    second, first = mails
    assert first["recipients"] == ["reader@example.org"]
    assert first["from"] == "Chorus <mail@chorus.example>"
    assert first["text"].replace("\r\n", "\n") == f"Accept: {link}\n"
    escaped = link.replace("&", "&amp;")
    assert f'<a href="{escaped}">{escaped}</a>' in first["html"]
    assert (second["text"].replace("\r\n", "\n"), second["html"]) == ("Just text.\n", None)
    one = (await catcher.get(f"/api/messages/{first['id']}")).json()
    assert one == first

    page = await catcher.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.index("Second") < page.text.index("You are invited")
    assert f'<a href="/messages/{first["id"]}">You are invited</a>' in page.text
    assert "reader@example.org" in page.text


async def test_one_mail_shows_its_html_sandboxed_and_its_text_with_links(
    catcher: Catcher,
) -> None:
    link = "http://127.0.0.1:8000/reset-password?token=tok_123"
    await catcher.send(chorus_mail(subject="Reset", body=f"Choose a new password: {link}\n"))
    [mail] = (await catcher.get("/api/messages")).json()

    page = await catcher.get(f"/messages/{mail['id']}")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    frame = re.search(r"<iframe [^>]*>", page.text)
    assert frame is not None
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame.group(0)
    assert f'src="/messages/{mail["id"]}/html"' in frame.group(0)
    assert f'<a href="{link}">{link}</a>' in page.text  # the text part, linked

    inner = await catcher.get(f"/messages/{mail['id']}/html")
    assert inner.status_code == 200
    assert inner.headers["content-security-policy"].startswith("sandbox allow-popups ")
    assert "script-src" not in inner.headers["content-security-policy"]
    assert inner.text.startswith('<!DOCTYPE html><base target="_blank">')
    assert f'<a href="{link}">{link}</a>' in inner.text


async def test_everything_a_mail_says_is_escaped_on_the_pages(catcher: Catcher) -> None:
    hostile = '<script>alert("x")</script>'
    await catcher.send(text_only(f"Hi {hostile}", f"Body {hostile}\n"))
    [mail] = (await catcher.get("/api/messages")).json()
    for path in ("/", f"/messages/{mail['id']}"):
        page = await catcher.get(path)
        assert "<script>" not in page.text, path
        assert "Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text, path
    assert "Body &lt;script&gt;" in (await catcher.get(f"/messages/{mail['id']}")).text
    # A text-only mail has no HTML to frame.
    assert (await catcher.get(f"/messages/{mail['id']}/html")).status_code == 404


async def test_unknown_mail_is_a_404(catcher: Catcher) -> None:
    for path in ("/messages/999999", "/messages/abc", "/api/messages/12345678901234567890"):
        response = await catcher.get(path)
        assert response.status_code == 404, path
        assert "<" not in response.text.replace("&lt;", "")


async def test_only_the_newest_mail_is_kept() -> None:
    small = Catcher("--keep", "3")
    try:
        for n in range(1, 6):
            await small.send(text_only(f"Mail {n}", "x\n"))
        mails = (await small.get("/api/messages")).json()
    finally:
        small.stop()
        small.log.close()
    assert [m["subject"] for m in mails] == ["Mail 5", "Mail 4", "Mail 3"]


async def test_a_password_reset_from_chorus_lands_in_the_catcher_with_its_link_clickable(
    catcher: Catcher, client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    owner = await sign_up(client)
    forgot = await client.post("/v1/auth/password/forgot", json={"email": owner.email})
    assert forgot.status_code == 202, forgot.text
    changes: dict[str, Any] = {"smtp_from": "Chorus <no-reply@chorus.example>"}
    assert await run_worker(app, smtp_settings(settings, catcher.smtp_port, **changes)) == 1

    [mail] = (await catcher.get("/api/messages")).json()
    assert mail["recipients"] == [owner.email]
    assert mail["subject"] == "Reset your Chorus password"
    link = re.search(r"http\S+/reset-password\?token=\S+", mail["text"])
    assert link is not None
    page = (await catcher.get(f"/messages/{mail['id']}")).text
    assert f'<a href="{link.group(0)}">{link.group(0)}</a>' in page
    inner = (await catcher.get(f"/messages/{mail['id']}/html")).text
    assert f'<a href="{link.group(0)}">{link.group(0)}</a>' in inner
