"""``make run``'s first minute: kept demo logins, busy ports, identity checks, the box last."""

from __future__ import annotations

import asyncio
import http.server
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from services.devstack import identity, migrations
from services.devstack.cli import MIGRATIONS, ROOT, RunPorts, service_env, start_box
from services.devstack.demo_logins import FILE_NAME, database_key, logins, password_for
from services.devstack.errors import DevStackError, write
from services.devstack.signals import SignalTrap
from services.devstack.supervisor import ChildSpec, PipedOutput, Supervisor
from shared.cli import seed_demo
from shared.config import Settings
from shared.db.base import Base
from shared.demo import DEMO_EMAIL, DEMO_MEMBERS
from tests.conftest import alembic_config

PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def impostor() -> Iterator[int]:
    """A trivial HTTP server that answers 200 "hello" to everything: not ours."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


# -- demo logins ---------------------------------------------------------------------------


async def test_the_demo_logins_are_kept_and_a_reset_database_gets_them_again(
    tmp_path: Path, client: httpx.AsyncClient, settings: Settings, admin_engine: AsyncEngine
) -> None:
    first = password_for(tmp_path, "embedded", {})
    await seed_demo(settings, first)

    # A later `make run`, after the database was emptied: the same password, seeded again.
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with admin_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    second = password_for(tmp_path, "embedded", {})
    assert second == first
    await seed_demo(settings, second)

    for email in [DEMO_EMAIL, *(m.email for m in DEMO_MEMBERS)]:
        login = await client.post("/v1/auth/login", json={"email": email, "password": first})
        assert login.status_code == 200, email

    kept = tmp_path / FILE_NAME
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert first in kept.read_text()
    shown = logins(first)
    assert [x.email for x in shown] == [DEMO_EMAIL, *(m.email for m in DEMO_MEMBERS)]
    assert {x.password for x in shown} == {first}


def test_each_database_has_its_own_demo_password_and_the_variable_wins(tmp_path: Path) -> None:
    embedded = password_for(tmp_path, database_key(None), {})
    external_key = database_key("postgresql://me:secret@db.internal:5433/chorus")
    assert external_key == "me@db.internal:5433/chorus"  # never the database password
    external = password_for(tmp_path, external_key, {})
    assert external != embedded
    assert password_for(tmp_path, database_key(None), {}) == embedded
    assert "secret" not in (tmp_path / FILE_NAME).read_text()

    given = password_for(tmp_path, "embedded", {"CHORUS_DEMO_PASSWORD": "chosen-by-me-1"})
    assert given == "chosen-by-me-1"
    assert "chosen-by-me-1" not in (tmp_path / FILE_NAME).read_text()


# -- ports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "title"),
    [
        ("CHORUS_API_PORT", "the API"),
        ("CHORUS_SANDBOX_PORT", "the platform sandbox"),
        ("CHORUS_STRIPE_PORT", "local Stripe"),
        ("CHORUS_MAILCATCHER_HTTP_PORT", "the mail catcher's page"),
    ],
)
def test_a_busy_port_stops_make_run_before_anything_starts(
    tmp_path: Path, variable: str, title: str
) -> None:
    names = [
        "CHORUS_API_PORT",
        "CHORUS_SANDBOX_PORT",
        "CHORUS_STRIPE_PORT",
        "CHORUS_MAILCATCHER_SMTP_PORT",
        "CHORUS_MAILCATCHER_HTTP_PORT",
    ]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({name: str(free_port()) for name in names})
    env["CHORUS_DATA_DIR"] = str(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env[variable] = str(port)
        done = subprocess.run(
            [PY, "-m", "services.devstack", "run"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert (
        f"devstack: port {port} ({title}) is already in use (another `make run`?); "
        f"stop that or choose another with {variable}={port + 1}"
    ) in done.stderr
    assert not (tmp_path / "data" / "postgres").exists()  # no server was started


def test_two_services_on_one_port_are_refused(tmp_path: Path) -> None:
    port = free_port()
    env = {"CHORUS_API_PORT": str(port), "CHORUS_STRIPE_PORT": str(port)}
    with pytest.raises(DevStackError, match="CHORUS_STRIPE_PORT and CHORUS_API_PORT both"):
        RunPorts.choose(env, mailcatcher=False)


# -- readiness: the service answered as itself ------------------------------------------------


def test_identity_checks_know_the_sandbox_and_localstripe(
    sandbox_url: str, localstripe_url: str
) -> None:
    sandbox_port = int(sandbox_url.rsplit(":", 1)[1])
    stripe_port = int(localstripe_url.rsplit(":", 1)[1].rstrip("/"))
    assert identity.probe(identity.SANDBOX, sandbox_port)[0] is identity.Answer.OURS
    assert identity.probe(identity.STRIPE, stripe_port)[0] is identity.Answer.OURS
    # Each one is told apart from the other, and from nobody listening.
    assert identity.probe(identity.SANDBOX, stripe_port)[0] is identity.Answer.OTHER
    assert identity.probe(identity.STRIPE, sandbox_port)[0] is identity.Answer.OTHER
    assert identity.probe(identity.SANDBOX, free_port())[0] is identity.Answer.NOTHING


def test_make_runs_local_stripe_answers_on_loopback_only(tmp_path: Path) -> None:
    """localstripe's own command listens on every interface; make run's does not."""
    port = free_port()
    spec = ChildSpec(
        "stripe",
        (PY, "-m", "services.devstack.localstripe_server", "--port", str(port)),
        ready=identity.ready(identity.STRIPE, port, "CHORUS_STRIPE_PORT"),
    )
    with (
        SignalTrap() as trap,
        Supervisor(trap, os.environ, ROOT, output=PipedOutput(tmp_path)) as supervisor,
    ):
        supervisor.start(spec)
        supervisor.wait(on_up=lambda: trap.signals.append(signal.SIGINT))
        assert identity.probe(identity.STRIPE, port)[0] is identity.Answer.OURS
        # The same port on the IPv6 loopback (which localstripe's own command serves): nobody.
        with socket.socket(socket.AF_INET6) as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("::1", port))


def test_an_impostor_on_the_sandbox_port_is_an_error_not_ready(
    tmp_path: Path, impostor: int
) -> None:
    """The sandbox child cannot bind (someone else has the port) while the impostor answers:
    the supervisor says so instead of announcing the stack."""
    spec = ChildSpec(
        "sandbox",
        (PY, "-c", "import time; time.sleep(30)"),
        ready=identity.ready(identity.SANDBOX, impostor, "CHORUS_SANDBOX_PORT"),
    )
    announced: list[bool] = []
    with (
        SignalTrap() as trap,
        Supervisor(trap, os.environ, ROOT, output=PipedOutput(tmp_path)) as supervisor,
    ):
        supervisor.start(spec)
        with pytest.raises(DevStackError) as caught:
            supervisor.wait(on_up=lambda: announced.append(True))
    message = str(caught.value)
    assert message.startswith(
        f"something other than the platform sandbox answers on port {impostor} "
        "(HTTP 200 from 'BaseHTTP/"
    )
    assert message.endswith(
        "to GET /_sandbox/identity); stop that program or choose another port with "
        f"CHORUS_SANDBOX_PORT={impostor + 1}"
    )
    assert announced == []


# -- the box, last ----------------------------------------------------------------------------

SERVICE = """
import pathlib, sys, time
go = pathlib.Path(sys.argv[1])
print("service: starting", flush=True)
print("service: worker.started", flush=True)
while not go.exists():
    time.sleep(0.02)
print("service: routine job line", flush=True)
print('{"event": "mail.failed", "level": "error"}', flush=True)
"""

TASK = """
import time
time.sleep(0.3)
print("task: demo agency ready", flush=True)
"""


def test_the_box_comes_last_after_every_start_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    go = tmp_path / "box-printed"
    services = [
        ChildSpec(
            "quiet", (PY, "-c", SERVICE, str(go)), ready_line=b"worker.started", quiet_when_up=True
        ),
        ChildSpec("task", (PY, "-c", TASK), one_shot=True, awaited=True),
    ]

    def show_box() -> None:
        write("+-- BOX --+\n| logins |\n+---------+")
        go.touch()

    with SignalTrap() as trap, Supervisor(trap, {}, ROOT, output=PipedOutput(tmp_path)) as sup:
        for spec in services:
            sup.start(spec)
        outcome = sup.wait(on_up=show_box)
    assert outcome.child == "quiet"  # it ended after the box: the run ends

    lines = capfd.readouterr().err.splitlines()
    top = lines.index("+-- BOX --+")
    assert lines[top : top + 3] == ["+-- BOX --+", "| logins |", "+---------+"]
    before = "\n".join(lines[:top])
    assert "quiet       | service: starting" in before
    assert "task        | task: demo agency ready" in before
    after = "\n".join(lines[top + 3 :])
    assert '"level": "error"' in after  # a problem still reaches the screen
    assert "routine job line" not in after  # routine lines only reach the log file
    log = (tmp_path / "quiet.log").read_text()
    assert "routine job line" in log
    assert "mail.failed" in log


def test_the_box_names_what_was_started_and_the_logins(tmp_path: Path) -> None:
    chosen = RunPorts(api=8100, sandbox=8791, stripe=8421, smtp=8125, mail_http=8126)
    env = {
        "CHORUS_PLATFORM_SANDBOX_URL": "http://127.0.0.1:8791",
        "CHORUS_SMTP_HOST": "127.0.0.1",
        "CHORUS_SMTP_PORT": "8125",
    }
    box = start_box(chosen, env, logins("pw-123"), tmp_path, demo_failed=False)
    assert box.splitlines()[1].startswith("│ Web app       http://127.0.0.1:8100/ ")  # first
    for expected in [
        "http://127.0.0.1:8100/ ",
        "http://127.0.0.1:8100/docs",
        "http://127.0.0.1:8791",
        "http://127.0.0.1:8421",
        "http://127.0.0.1:8126  (SMTP 127.0.0.1:8125)",
        str(tmp_path / FILE_NAME),
    ]:
        assert expected in box
    assert re.search(rf"owner +{re.escape(DEMO_EMAIL)} +pw-123", box)
    assert re.search(r"manager of nyc-001 +nyc\.manager@demo\.chorus\.example +pw-123", box)
    assert box.count("pw-123") == 1 + len(DEMO_MEMBERS)
    widths = {len(line) for line in box.splitlines()}
    assert len(widths) == 1  # a closed box: every line as wide as the frame


def test_chorus_is_pointed_at_the_chosen_ports_unless_told_otherwise() -> None:
    chosen = RunPorts(api=8100, sandbox=8791, stripe=8421, smtp=8125, mail_http=8126)
    env = service_env(chosen, {})
    assert env["CHORUS_PUBLIC_BASE_URL"] == "http://127.0.0.1:8100"
    assert env["CHORUS_PLATFORM_SANDBOX_URL"] == "http://127.0.0.1:8791"
    assert env["CHORUS_STRIPE_API_BASE"] == "http://127.0.0.1:8421"
    assert (env["CHORUS_SMTP_HOST"], env["CHORUS_SMTP_PORT"]) == ("127.0.0.1", "8125")
    assert env["CHORUS_SMTP_SECURITY"] == "none"
    mine = service_env(chosen, {"CHORUS_SMTP_HOST": "smtp.example.com"})
    assert "CHORUS_SMTP_HOST" not in mine  # the person's own mail server stays
    assert "CHORUS_SMTP_SECURITY" not in mine


def test_the_box_fits_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # where `make run` runs: paths are shown relative to it
    chosen = RunPorts(api=8000, sandbox=8790, stripe=8420, smtp=8025, mail_http=8026)
    env = service_env(chosen, {})  # what make run points Chorus at by default
    box = start_box(chosen, env, logins("Mw2G_WKxr64CHJdK"), ROOT / ".data", demo_failed=False)
    assert "CHORUS_SMTP_HOST" not in box  # Chorus mails to the catcher
    assert max(len(line) for line in box.splitlines()) <= 80


# -- migrations: skipped when there is nothing to do ----------------------------------------


async def test_the_migration_check_agrees_with_alembic(database_url: URL) -> None:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert migrations.heads(MIGRATIONS) == frozenset(script.get_heads())
    url = database_url.set(drivername="postgresql").render_as_string(hide_password=False)
    # The devstack calls it from plain (not async) code: here, from a thread.
    assert await asyncio.to_thread(migrations.at_head, url, MIGRATIONS)
    other = url.rsplit("/", 1)[0] + "/postgres"  # no alembic_version table there
    assert not await asyncio.to_thread(migrations.at_head, other, MIGRATIONS)
