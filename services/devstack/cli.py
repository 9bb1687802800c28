"""``python -m services.devstack <command>``: the commands behind ``make run``, ``make test``,
``make bench`` and ``make migrate``.

Arguments after the command are passed through untouched (to pytest, alembic, the benchmark or
the program given to ``exec``), which is why this is a small dispatcher and not argparse:
argparse would try to interpret ``-k``, ``-x`` and friends itself.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.devstack import banner, identity, migrations, ports
from services.devstack.banner import Address
from services.devstack.demo_logins import (
    FILE_NAME,
    PASSWORD_ENV,
    READY_LINE,
    Login,
    database_key,
    logins,
    password_for,
)
from services.devstack.errors import DevStackError, say, write
from services.devstack.osutil import shown
from services.devstack.ports import PortSetting
from services.devstack.signals import Interrupted, SignalTrap, name
from services.devstack.stack import DevStack, stop_embedded
from services.devstack.supervisor import ChildSpec, PipedOutput, Supervisor, run_one
from services.devstack.urls import LOOPBACK

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: children run here, and the embedded servers keep their data below it."""

DATA_DIR = ROOT / ".data"
DATA_DIR_ENV = "CHORUS_DATA_DIR"
"""Another data folder (embedded servers, demo logins, service logs), e.g. for a second stack."""
MIGRATIONS = ROOT / "migrations" / "versions"
PYTEST_NO_TESTS = 5

PY = sys.executable
"""Children use the devstack's own interpreter, i.e. the project's virtualenv."""

Body = Callable[[DevStack, SignalTrap], int]

API_PORT = PortSetting("CHORUS_API_PORT", 8000, "the API")
SANDBOX_PORT = PortSetting("CHORUS_SANDBOX_PORT", 8790, "the platform sandbox")
STRIPE_PORT = PortSetting("CHORUS_STRIPE_PORT", 8420, "local Stripe")
"""Billing (issue #8): the local Stripe (``localstripe``) of ``make run``."""
MAIL_SMTP_PORT = PortSetting("CHORUS_MAILCATCHER_SMTP_PORT", 8025, "the mail catcher's SMTP")
MAIL_HTTP_PORT = PortSetting("CHORUS_MAILCATCHER_HTTP_PORT", 8026, "the mail catcher's page")

DEMO_READY = READY_LINE.encode()
"""What the demo task prints once the demo is seeded (and connected)."""
WORKER_READY = b"worker.started"
"""The event each worker logs once it is connected and about to take jobs."""


def data_dir(env: Mapping[str, str]) -> Path:
    raw = env.get(DATA_DIR_ENV, "").strip()
    return Path(raw).resolve() if raw else DATA_DIR


def has_mailcatcher() -> bool:
    return (ROOT / "services" / "mailcatcher" / "__main__.py").is_file()


@dataclass(frozen=True)
class RunPorts:
    """The ports of ``make run``'s HTTP services, as chosen by the environment."""

    api: int
    sandbox: int
    stripe: int
    smtp: int | None
    mail_http: int | None

    @classmethod
    def choose(cls, env: Mapping[str, str], mailcatcher: bool) -> RunPorts:
        """Read every port and check, before anything starts, that each one is free."""
        settings = [API_PORT, SANDBOX_PORT, STRIPE_PORT]
        if mailcatcher:
            settings += [MAIL_SMTP_PORT, MAIL_HTTP_PORT]
        chosen = [(setting, setting.read(env)) for setting in settings]
        taken: dict[int, PortSetting] = {}
        for setting, port in chosen:
            if port in taken:
                raise DevStackError(
                    f"{setting.variable} and {taken[port].variable} both name port {port}; "
                    f"choose another with {setting.variable}="
                )
            taken[port] = setting
        for setting, port in chosen:
            if not ports.is_free(port):
                raise setting.busy(port)
        by_name = {setting.variable: port for setting, port in chosen}
        return cls(
            api=by_name[API_PORT.variable],
            sandbox=by_name[SANDBOX_PORT.variable],
            stripe=by_name[STRIPE_PORT.variable],
            smtp=by_name.get(MAIL_SMTP_PORT.variable),
            mail_http=by_name.get(MAIL_HTTP_PORT.variable),
        )


def _url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def app_services(chosen: RunPorts) -> list[ChildSpec]:
    """The long-running processes of ``run``, started in this order. A new service is one
    more entry here: how to start it, and how it proves it is up."""
    # --no-access-log: the app writes its own access line (JSON, with request and agency id).
    uvicorn = (PY, "-m", "uvicorn", "--factory", "--no-access-log", "--host", LOOPBACK)
    services = [
        ChildSpec(
            "api",
            (*uvicorn, "--port", str(chosen.api), "services.api.app:create_app"),
            ready=identity.ready(identity.API, chosen.api, API_PORT.variable),
        ),
        # Two job queues (issue #12): urgent work (fan-out, publishing, replies, mail,
        # webhooks, with the dispatcher) never waits behind bulk work (collection, backfills).
        ChildSpec(
            "worker",
            (PY, "-m", "arq", "services.worker.settings.WorkerSettings"),
            ready_line=WORKER_READY,
            quiet_when_up=True,  # its cron lines (about 14 a minute) would push the box away
        ),
        ChildSpec(
            "worker-bulk",
            (PY, "-m", "arq", "services.worker.settings.BulkWorkerSettings"),
            ready_line=WORKER_READY,
            quiet_when_up=True,
        ),
        ChildSpec(
            "sandbox",
            (*uvicorn, "--port", str(chosen.sandbox), "services.sandbox.app:create_app"),
            ready=identity.ready(identity.SANDBOX, chosen.sandbox, SANDBOX_PORT.variable),
        ),
        # Billing (issue #8): a stateful fake Stripe; Chorus's Stripe calls go there.
        ChildSpec(
            "stripe",
            (PY, "-m", "services.devstack.localstripe_server", "--port", str(chosen.stripe)),
            ready=identity.ready(identity.STRIPE, chosen.stripe, STRIPE_PORT.variable),
        ),
    ]
    if chosen.smtp is not None and chosen.mail_http is not None:
        services.append(
            ChildSpec(
                "mailcatcher",
                (
                    PY,
                    "-m",
                    "services.mailcatcher",
                    "--smtp-port",
                    str(chosen.smtp),
                    "--http-port",
                    str(chosen.mail_http),
                    "--host",
                    LOOPBACK,
                ),
                ready=identity.ready(
                    identity.MAILCATCHER, chosen.mail_http, MAIL_HTTP_PORT.variable
                ),
            )
        )
    return services


def service_env(chosen: RunPorts, environ: Mapping[str, str]) -> dict[str, str]:
    """What points Chorus at the local services, unless the person set it otherwise."""
    extra: dict[str, str] = {}
    if "CHORUS_PUBLIC_BASE_URL" not in environ:
        extra["CHORUS_PUBLIC_BASE_URL"] = _url(chosen.api)
    if "CHORUS_PLATFORM_SANDBOX_URL" not in environ:
        extra["CHORUS_PLATFORM_SANDBOX_URL"] = _url(chosen.sandbox)
    if "CHORUS_STRIPE_API_BASE" not in environ:  # Billing (issue #8)
        extra["CHORUS_STRIPE_API_BASE"] = _url(chosen.stripe)
        extra["CHORUS_STRIPE_ENVIRONMENT"] = "local"
        extra["CHORUS_STRIPE_LOCAL_WEBHOOKS"] = "true"
    if chosen.smtp is not None and "CHORUS_SMTP_HOST" not in environ:
        extra["CHORUS_SMTP_HOST"] = LOOPBACK
        extra["CHORUS_SMTP_PORT"] = str(chosen.smtp)
        extra["CHORUS_SMTP_SECURITY"] = "none"
    return extra


def start_box(
    chosen: RunPorts,
    env: Mapping[str, str],
    logins: list[Login],
    data: Path,
    demo_failed: bool,
) -> str:
    """The box of `cmd_run`, from what was actually started and pointed at."""
    api = _url(chosen.api)
    addresses = [
        Address("Web app", f"{api}/", "sign in with a login below"),
        Address("API docs", f"{api}/docs"),
        Address("Sandbox", _url(chosen.sandbox), "docs: /_sandbox/docs"),
        Address("Local Stripe", _url(chosen.stripe), "nothing is charged"),
    ]
    elsewhere = False
    if chosen.mail_http is not None and chosen.smtp is not None:
        note = f"SMTP {LOOPBACK}:{chosen.smtp}"
        addresses.append(Address("Mail catcher", _url(chosen.mail_http), note))
        elsewhere = env.get("CHORUS_SMTP_HOST") != LOOPBACK or env.get("CHORUS_SMTP_PORT") != str(
            chosen.smtp
        )
    footer = [
        f"Logins kept in {shown(data / FILE_NAME)}",
        f"Service logs in {shown(data / 'logs')}/ (workers show only problems here)",
    ]
    if elsewhere:
        footer.insert(0, "Chorus mails through CHORUS_SMTP_HOST, not the catcher.")
    if demo_failed:
        footer.insert(0, "The demo set-up failed (see above): these logins may not work yet.")
    if not env.get("CHORUS_PLATFORM_SANDBOX_URL"):
        footer.insert(0, "Real platforms: CHORUS_PLATFORM_SANDBOX_URL is empty.")
    footer.append("Ctrl-C stops everything.")
    title = "Chorus is up" + (" (test mode)" if env.get("CHORUS_PLATFORM_SANDBOX_URL") else "")
    return banner.render(title, addresses, logins, footer)


# -- commands ------------------------------------------------------------------------------


def cmd_exec(args: list[str]) -> int:
    """exec -- CMD [ARGS...]: run CMD with DATABASE_URL and REDIS_URL set; exit with its code."""
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        raise DevStackError("usage: python -m services.devstack exec -- CMD [ARGS...]")
    return _one_shot(ChildSpec(Path(args[0]).name, tuple(args)))


def cmd_test(args: list[str]) -> int:
    """test [PYTEST ARGS...]: run the test suite."""
    status = _one_shot(ChildSpec("pytest", (PY, "-m", "pytest", *args)))
    if status == PYTEST_NO_TESTS:
        say("pytest collected no tests (exit 5); that counts as a failure")
    if not _chromium_installed():
        say(
            "the browser tests (tests/web, Chromium) were SKIPPED: Chromium is not installed; "
            "install it with: apt-get install -y chromium"
        )
    return status


def _chromium_installed() -> bool:
    """As tests/support/web.py looks for it (the web app's browser tests)."""
    wanted = os.environ.get("CHORUS_CHROMIUM", "/usr/bin/chromium")
    return os.access(wanted, os.X_OK) or shutil.which("chromium") is not None


def cmd_bench(args: list[str]) -> int:
    """bench NAME [ARGS...]: run bench/NAME.py."""
    available = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if not p.stem.startswith("_"))
    if not args:
        raise DevStackError(f"usage: make bench NAME=<one of: {', '.join(available) or 'none'}>")
    script = ROOT / "bench" / f"{args[0]}.py"
    if not script.is_file():
        raise DevStackError(
            f"no benchmark {args[0]!r} (bench/{args[0]}.py); "
            f"available: {', '.join(available) or 'none yet'}"
        )
    return _one_shot(ChildSpec(f"bench {args[0]}", (PY, str(script), *args[1:])))


def cmd_migrate(args: list[str]) -> int:
    """migrate [ALEMBIC ARGS...]: alembic upgrade head (or the alembic command given)."""
    return _one_shot(_alembic(args or ["upgrade", "head"]))


def cmd_run(args: list[str]) -> int:
    """run: migrate, run every service and the demo until Ctrl-C; logins shown last.

    The services: the API, the two workers, the sandbox, local Stripe, the mail catcher."""
    if args:
        raise DevStackError("usage: python -m services.devstack run")
    chosen = RunPorts.choose(os.environ, has_mailcatcher())
    data = data_dir(os.environ)
    if chosen.smtp is None:
        say("no mail catcher (services/mailcatcher is missing): mail is not delivered locally")

    def body(stack: DevStack, trap: SignalTrap) -> int:
        assert stack.database is not None
        env = stack.child_env(service_env(chosen, os.environ))
        if env.get("CHORUS_PLATFORM_SANDBOX_URL"):
            say(
                "TEST MODE: every platform connector talks to the local sandbox "
                f"({env['CHORUS_PLATFORM_SANDBOX_URL']}), no real social network; set "
                "CHORUS_PLATFORM_SANDBOX_URL= (empty) and CHORUS_PLATFORM_APPS for real ones"
            )
        key = database_key(stack.database.url if stack.database.external else None)
        password = password_for(data, key, os.environ)
        if migrations.at_head(env["DATABASE_URL"], MIGRATIONS):
            say("the database is at the newest migration")
        else:
            status = run_one(trap, env, ROOT, _alembic(["upgrade", "head"]))
            if trap.first is not None:
                return 0
            if status != 0:
                say(f"migrations failed (exit {status}); not starting the services")
                return status

        services = app_services(chosen)
        # Seeds the demo agency with the kept password and, in test mode, connects its
        # accounts through the sandbox (which forgets them when it stops), each time.
        demo = ChildSpec(
            "demo",
            (PY, "-m", "services.devstack.demo_task"),
            one_shot=True,
            awaited=True,
            ready_line=DEMO_READY,
            extra_env=((PASSWORD_ENV, password),),
        )
        output = PipedOutput(data / "logs")
        with Supervisor(trap, env, ROOT, output=output) as supervisor:
            for spec in [*services, demo]:
                supervisor.start(spec)
            say(f"starting {', '.join(s.name for s in services)} and the demo set-up")

            def show_box() -> None:
                box = start_box(chosen, env, logins(password), data, "demo" in supervisor.failed)
                write("\n" + box)

            outcome = supervisor.wait(on_up=show_box)
            if outcome.signal is not None:
                say(f"{name(outcome.signal)} received; stopping")
                return 0
            say(f"{outcome.child} exited (exit {outcome.returncode}); stopping the others")
            return outcome.returncode or 1

    return _with_stack(body, data, interrupt_status=0)


def cmd_stop(args: list[str]) -> int:
    """stop: stop embedded servers left running by a killed devstack (unless one uses them)."""
    return stop_embedded(data_dir(os.environ))


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": cmd_run,
    "test": cmd_test,
    "bench": cmd_bench,
    "migrate": cmd_migrate,
    "exec": cmd_exec,
    "stop": cmd_stop,
}


def usage() -> str:
    lines = ["usage: python -m services.devstack COMMAND [ARGS...]", "", "commands:"]
    for handler in COMMANDS.values():
        usage_line, _, summary = (handler.__doc__ or "").strip().splitlines()[0].partition(": ")
        lines.append(f"  {usage_line:<26} {summary}")
    lines += [
        "",
        "PostgreSQL and Redis: DATABASE_URL / REDIS_URL (or CHORUS_DATABASE_URL /",
        "CHORUS_REDIS_URL) when set, else embedded servers with their data in .data/",
        f"(or in {DATA_DIR_ENV}). The ports of run:",
        *(
            f"  {p.variable:<30} {p.default}"
            for p in (API_PORT, SANDBOX_PORT, STRIPE_PORT, MAIL_SMTP_PORT, MAIL_HTTP_PORT)
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(usage(), file=sys.stderr)
        return 0 if argv else 2
    handler = COMMANDS.get(argv[0])
    if handler is None:
        print(f"unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        return handler(list(argv[1:]))
    except DevStackError as exc:
        say(str(exc))
        return exc.status


# -- helpers -------------------------------------------------------------------------------


def _alembic(args: list[str]) -> ChildSpec:
    return ChildSpec("migrations", (PY, "-m", "alembic", *args))


def _one_shot(spec: ChildSpec) -> int:
    def body(stack: DevStack, trap: SignalTrap) -> int:
        return run_one(trap, stack.child_env(), ROOT, spec)

    return _with_stack(body, data_dir(os.environ))


def _with_stack(body: Body, data: Path, interrupt_status: int | None = None) -> int:
    """Run `body` with the backing servers up; stop them afterwards, whatever happens.

    Interrupted while the servers were starting: exit with `interrupt_status`, by default the
    shell's 128+N (130 for Ctrl-C)."""
    with SignalTrap() as trap:
        try:
            with DevStack(data, os.environ, trap) as stack:
                for line in stack.summaries():
                    say(line)
                return body(stack, trap)
        except Interrupted as exc:
            say(f"{name(exc.signum)} received while starting; stopped")
            return 128 + exc.signum if interrupt_status is None else interrupt_status
