"""Mail delivery over SMTP (issue #13), against a real SMTP server started by each test:
both parts arrive with their links, TLS and AUTH are used, a server that is down or says
"later" is tried again until it takes the mail, a 5xx fails the mail for good, a mail whose
job was lost is found by the sweep, and two deliverers never send one mail twice."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db import Database
from shared.mail import service as mail_service
from tests.factories import Tenant, create_brand, sign_up
from tests.support.smtp_server import (
    Handler,
    SmtpServer,
    free_port,
    run_worker,
    self_signed_certificate,
    smtp_settings,
)

LOGIN, PASSWORD = "chorus-relay", "relay password 42"


async def queue_mail(
    db: Database,
    tenant: Tenant,
    *,
    body: str = "Hello.\n",
    subject: str = "Hi",
    to: str = "someone@example.org",
) -> uuid.UUID:
    """A mail in the outbox whose job never reached Redis (``redis=None``)."""
    async with db.transaction(tenant.agency_id) as session:
        email = mail_service.queue(
            session,
            None,
            agency_id=tenant.agency_id,
            to=to,
            subject=subject,
            body=body,
            kind="test",
        )
        await session.flush()
        return email.id


async def deliver(db: Database, settings: Settings, tenant: Tenant, email_id: uuid.UUID) -> str:
    async with db.transaction(tenant.agency_id) as session:
        return await mail_service.deliver(session, settings, email_id)


async def row(engine: AsyncEngine, email_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                text(
                    "SELECT attempts, last_error, next_attempt_at, sent_at, failed_at "
                    "FROM outbound_email WHERE id = :id"
                ),
                {"id": email_id},
            )
        ).one()
    return dict(found._mapping)


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> Tenant:
    return await sign_up(client)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.fixture
async def plain_server() -> AsyncIterator[SmtpServer]:
    async with SmtpServer(Handler()) as server:
        yield server


async def test_an_invitation_arrives_over_starttls_with_auth_in_text_and_html(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_engine: AsyncEngine,
    settings: Settings,
    certificate: tuple[Path, Path],
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    handler = Handler()
    async with SmtpServer(handler, certificate=certificate, credentials=(LOGIN, PASSWORD)) as srv:
        mail_settings = smtp_settings(
            settings,
            srv.port,
            smtp_security="starttls",
            smtp_tls_ca_file=str(certificate[0]),
            smtp_username=LOGIN,
            smtp_password=SecretStr(PASSWORD),
            smtp_from="Chorus <mail@chorus.example>",
        )
        invited = await client.post(
            "/v1/invitations",
            json={"email": "new@agency.example", "role": "brand_viewer", "brand_id": brand["id"]},
            headers=owner.headers,
        )
        assert invited.status_code == 201, invited.text
        assert await run_worker(app, mail_settings) == 1

    [mail] = handler.received
    assert (mail.tls, mail.login) == (True, LOGIN)
    assert mail.rcpt_tos == ["new@agency.example"]
    assert mail.mail_from == "mail@chorus.example"
    message = mail.message
    assert message["Subject"] == "You are invited to Chorus"
    assert message["From"] == "Chorus <mail@chorus.example>"
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    plain, html = (part for part in message.iter_parts())
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    link = re.search(r"http\S+/accept-invitation\?token=\S+", plain.get_content())
    assert link is not None
    assert f'<a href="{link.group(0)}">{link.group(0)}</a>' in html.get_content()

    async with admin_engine.connect() as conn:
        email_id, sent_at, attempts = (
            await conn.execute(text("SELECT id, sent_at, attempts FROM outbound_email"))
        ).one()
    assert sent_at is not None
    assert attempts == 1
    assert message["Message-ID"] == f"<{email_id}@chorus.example>"


async def test_tls_from_the_first_byte_is_used_when_asked(
    app_db: Database, settings: Settings, tenant: Tenant, certificate: tuple[Path, Path]
) -> None:
    handler = Handler()
    async with SmtpServer(handler, certificate=certificate, implicit_tls=True) as srv:
        mail_settings = smtp_settings(
            settings, srv.port, smtp_security="tls", smtp_tls_ca_file=str(certificate[0])
        )
        email_id = await queue_mail(app_db, tenant)
        assert await deliver(app_db, mail_settings, tenant, email_id) == "sent"
    assert [m.tls for m in handler.received] == [True]


async def test_the_html_part_escapes_the_text_and_keeps_every_link(
    app_db: Database, settings: Settings, tenant: Tenant, plain_server: SmtpServer
) -> None:
    body = (
        'Dear <b>Bob</b> & "friends",\n'
        "  indented line\n"
        "Open https://app.example/accept?token=a.b-c&next=%2Fhome, then reply.\n"
        "<script>alert(1)</script>\n"
    )
    email_id = await queue_mail(app_db, tenant, body=body, subject="A <test>\r\nBcc: x@y.z")
    assert await deliver(app_db, smtp_settings(settings, plain_server.port), tenant, email_id) == (
        "sent"
    )
    [mail] = plain_server.handler.received
    assert mail.message["Subject"] == "A <test> Bcc: x@y.z"
    assert mail.message["Bcc"] is None
    plain, html = (part.get_content().replace("\r\n", "\n") for part in mail.message.iter_parts())
    assert plain == body
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Dear &lt;b&gt;Bob&lt;/b&gt; &amp; &quot;friends&quot;," in html
    assert "  indented line" in html
    url = "https://app.example/accept?token=a.b-c&amp;next=%2Fhome"
    assert f'Open <a href="{url}">{url}</a>, then reply.' in html
    assert "<title>A &lt;test&gt; Bcc: x@y.z</title>" in html


async def test_a_server_that_is_down_is_tried_again_until_it_takes_the_mail(
    app: FastAPI,
    app_db: Database,
    admin_engine: AsyncEngine,
    settings: Settings,
    tenant: Tenant,
) -> None:
    port = free_port()
    mail_settings = smtp_settings(settings, port)
    email_id = await queue_mail(app_db, tenant)
    before = datetime.now(UTC)
    assert await deliver(app_db, mail_settings, tenant, email_id) == "retry"
    state = await row(admin_engine, email_id)
    assert state["attempts"] == 1
    assert "could not be reached" in state["last_error"]
    assert state["sent_at"] is None
    assert state["failed_at"] is None
    assert state["next_attempt_at"] >= before + timedelta(seconds=20)
    # Not due yet: the sweep leaves it alone.
    assert await mail_service.sweep(app_db, app.state.redis, datetime.now(UTC)) == 0

    handler = Handler(reply="451 4.3.0 mailbox busy, try later")
    async with SmtpServer(handler, port=port):
        due = state["next_attempt_at"] + timedelta(seconds=1)
        assert await mail_service.sweep(app_db, app.state.redis, due) == 1
        assert await run_worker(app, mail_settings) == 1
        state = await row(admin_engine, email_id)
        assert state["attempts"] == 2
        assert state["last_error"].startswith("the SMTP server answered 451")
        assert state["sent_at"] is None
        assert handler.received == []

        handler.reply = "250 OK"
        due = state["next_attempt_at"] + timedelta(seconds=1)
        assert await mail_service.sweep(app_db, app.state.redis, due) == 1
        assert await run_worker(app, mail_settings) == 1
    assert len(handler.received) == 1
    state = await row(admin_engine, email_id)
    assert state["attempts"] == 3
    assert state["sent_at"] is not None
    assert state["last_error"] is None


async def test_a_5xx_reply_fails_the_mail_and_it_is_not_tried_again(
    app: FastAPI, app_db: Database, admin_engine: AsyncEngine, settings: Settings, tenant: Tenant
) -> None:
    handler = Handler(reply="550 5.1.1 no such mailbox")
    async with SmtpServer(handler) as srv:
        mail_settings = smtp_settings(settings, srv.port)
        email_id = await queue_mail(app_db, tenant)
        assert await deliver(app_db, mail_settings, tenant, email_id) == "failed"
        state = await row(admin_engine, email_id)
        assert state["failed_at"] is not None
        assert state["sent_at"] is None
        assert "550 5.1.1 no such mailbox" in state["last_error"]
        later = datetime.now(UTC) + timedelta(days=30)
        assert await mail_service.sweep(app_db, app.state.redis, later) == 0
        handler.reply = "250 OK"
        assert await deliver(app_db, mail_settings, tenant, email_id) == "done"
    assert handler.received == []
    assert (await row(admin_engine, email_id))["attempts"] == 1


async def test_an_address_that_cannot_be_mailed_fails_the_mail_at_once(
    app_db: Database, admin_engine: AsyncEngine, settings: Settings, tenant: Tenant
) -> None:
    handler = Handler()
    async with SmtpServer(handler) as srv:
        email_id = await queue_mail(app_db, tenant, to="two words@example.org>")
        outcome = await deliver(app_db, smtp_settings(settings, srv.port), tenant, email_id)
    assert outcome == "failed"
    assert "cannot be mailed" in (await row(admin_engine, email_id))["last_error"]
    assert handler.received == []


async def test_the_last_transient_failure_fails_the_mail(
    app_db: Database, admin_engine: AsyncEngine, settings: Settings, tenant: Tenant
) -> None:
    email_id = await queue_mail(app_db, tenant)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE outbound_email SET attempts = :n WHERE id = :id"),
            {"n": mail_service.MAX_ATTEMPTS - 1, "id": email_id},
        )
    mail_settings = smtp_settings(settings, free_port())
    assert await deliver(app_db, mail_settings, tenant, email_id) == "failed"
    state = await row(admin_engine, email_id)
    assert state["attempts"] == mail_service.MAX_ATTEMPTS
    assert state["failed_at"] is not None


async def test_a_refused_log_in_keeps_the_mail_for_later_and_says_what_to_fix(
    app_db: Database,
    admin_engine: AsyncEngine,
    settings: Settings,
    tenant: Tenant,
    certificate: tuple[Path, Path],
) -> None:
    handler = Handler()
    async with SmtpServer(handler, certificate=certificate, credentials=(LOGIN, PASSWORD)) as srv:
        mail_settings = smtp_settings(
            settings,
            srv.port,
            smtp_security="starttls",
            smtp_tls_ca_file=str(certificate[0]),
            smtp_username=LOGIN,
            smtp_password=SecretStr("wrong"),
        )
        email_id = await queue_mail(app_db, tenant)
        assert await deliver(app_db, mail_settings, tenant, email_id) == "retry"
    state = await row(admin_engine, email_id)
    assert "CHORUS_SMTP_PASSWORD" in state["last_error"]
    assert state["failed_at"] is None
    assert handler.received == []


async def test_a_certificate_that_does_not_verify_is_refused(
    app_db: Database,
    admin_engine: AsyncEngine,
    settings: Settings,
    tenant: Tenant,
    certificate: tuple[Path, Path],
) -> None:
    handler = Handler()
    async with SmtpServer(handler, certificate=certificate) as srv:
        # The system's CAs do not know the test's self-signed certificate.
        mail_settings = smtp_settings(settings, srv.port, smtp_security="starttls")
        email_id = await queue_mail(app_db, tenant)
        assert await deliver(app_db, mail_settings, tenant, email_id) == "retry"
    assert "TLS" in (await row(admin_engine, email_id))["last_error"]
    assert handler.received == []


async def test_the_sweep_sends_a_mail_whose_job_was_lost(
    app: FastAPI,
    app_db: Database,
    admin_engine: AsyncEngine,
    settings: Settings,
    tenant: Tenant,
    plain_server: SmtpServer,
) -> None:
    email_id = await queue_mail(app_db, tenant)
    now = datetime.now(UTC)
    # Its job may still be on its way: the sweep gives it a minute.
    assert await mail_service.sweep(app_db, app.state.redis, now) == 0
    later = now + mail_service.LOST_JOB_GRACE + timedelta(seconds=1)
    assert await mail_service.sweep(app_db, app.state.redis, later) == 1
    # Handed on: not handed on again while its job may be waiting in the queue.
    assert await mail_service.sweep(app_db, app.state.redis, later) == 0
    assert await run_worker(app, smtp_settings(settings, plain_server.port)) == 1
    assert [m.rcpt_tos for m in plain_server.handler.received] == [["someone@example.org"]]
    assert (await row(admin_engine, email_id))["sent_at"] is not None


async def test_two_deliverers_never_send_one_mail_twice(
    app: FastAPI, app_db: Database, settings: Settings, tenant: Tenant
) -> None:
    hold = asyncio.Event()
    handler = Handler(hold=hold)
    async with SmtpServer(handler) as srv:
        mail_settings = smtp_settings(settings, srv.port)
        email_id = await queue_mail(app_db, tenant)
        first = asyncio.create_task(deliver(app_db, mail_settings, tenant, email_id))
        await asyncio.wait_for(handler.data_started.wait(), timeout=30)
        # The first holds the mail while the server has it: a second deliverer and the
        # sweep leave it alone.
        second = deliver(app_db, mail_settings, tenant, email_id)
        assert await asyncio.wait_for(second, timeout=30) == "busy"
        far = datetime.now(UTC) + timedelta(days=1)
        assert await mail_service.sweep(app_db, app.state.redis, far) == 0
        hold.set()
        assert await first == "sent"
        assert await deliver(app_db, mail_settings, tenant, email_id) == "done"

        other = await queue_mail(app_db, tenant, subject="Raced")
        outcomes = await asyncio.gather(
            *(deliver(app_db, mail_settings, tenant, other) for _ in range(5))
        )
    assert sorted(outcomes).count("sent") == 1
    assert set(outcomes) <= {"sent", "busy", "done"}
    assert [m.message["Subject"] for m in handler.received] == ["Hi", "Raced"]
