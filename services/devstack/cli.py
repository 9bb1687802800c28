"""``python -m services.devstack <command>``: the commands behind ``make run``, ``make test``,
``make bench`` and ``make migrate``.

Arguments after the command are passed through untouched (to pytest, alembic, the benchmark or
the program given to ``exec``), which is why this is a small dispatcher and not argparse:
argparse would try to interpret ``-k``, ``-x`` and friends itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from services.devstack import ports
from services.devstack.errors import DevStackError, say
from services.devstack.signals import Interrupted, SignalTrap, name
from services.devstack.stack import DevStack, stop_embedded
from services.devstack.supervisor import ChildSpec, Supervisor, run_one
from services.devstack.urls import LOOPBACK

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: children run here, and the embedded servers keep their data below it."""

DATA_DIR = ROOT / ".data"
DEFAULT_API_PORT = 8000
PYTEST_NO_TESTS = 5

PY = sys.executable
"""Children use the devstack's own interpreter, i.e. the project's virtualenv."""

Body = Callable[[DevStack, SignalTrap], int]


def api_port(env: Mapping[str, str]) -> int:
    raw = env.get("CHORUS_API_PORT", "").strip() or str(DEFAULT_API_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DevStackError(f"CHORUS_API_PORT must be a port number, not {raw!r}")
    return int(raw)


SANDBOX_PORT = 8790
STRIPE_PORT = 8420
"""Billing (issue #8): the local Stripe (``localstripe``) of ``make run``."""


def app_services(port: int) -> list[ChildSpec]:
    """The long-running processes of ``run``, started in this order. A new service (a local
    Stripe) is one more line here."""
    api = f"http://{LOOPBACK}:{port}"
    sandbox = f"http://{LOOPBACK}:{SANDBOX_PORT}"
    # --no-access-log: the app writes its own access line (JSON, with request and agency id).
    uvicorn = (PY, "-m", "uvicorn", "services.api.app:create_app", "--factory", "--no-access-log")
    return [
        ChildSpec(
            "api",
            (*uvicorn, "--host", LOOPBACK, "--port", str(port)),
            ready_port=port,
            ready_message=f"the API is up: {api} (docs: {api}/docs)",
        ),
        # Two job queues (issue #12): urgent work (fan-out, publishing, replies, mail,
        # webhooks, with the dispatcher) never waits behind bulk work (collection, backfills).
        ChildSpec("worker", (PY, "-m", "arq", "services.worker.settings.WorkerSettings")),
        ChildSpec("worker-bulk", (PY, "-m", "arq", "services.worker.settings.BulkWorkerSettings")),
        ChildSpec(
            "sandbox",
            (
                PY,
                "-m",
                "uvicorn",
                "services.sandbox.app:create_app",
                "--factory",
                "--no-access-log",
                "--host",
                LOOPBACK,
                "--port",
                str(SANDBOX_PORT),
            ),
            ready_port=SANDBOX_PORT,
            ready_message=f"platform sandbox (test mode, no real social network is called): "
            f"{sandbox} (docs: {sandbox}/_sandbox/docs)",
        ),
        # Billing (issue #8): a stateful fake Stripe; Chorus's Stripe calls go there.
        ChildSpec(
            "stripe",
            (str(Path(PY).with_name("localstripe")), "--port", str(STRIPE_PORT)),
            ready_port=STRIPE_PORT,
            ready_message=f"local Stripe (test mode, nothing is charged): "
            f"http://{LOOPBACK}:{STRIPE_PORT}",
        ),
    ]


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
    return status


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
    """run: migrate, seed the demo agency, then run the API and the workers until Ctrl-C."""
    if args:
        raise DevStackError("usage: python -m services.devstack run")
    port = api_port(os.environ)
    if not ports.is_free(port):
        raise DevStackError(
            f"port {port} is already in use (another `make run`?); "
            "stop that or choose another with CHORUS_API_PORT=8001"
        )

    def body(stack: DevStack, trap: SignalTrap) -> int:
        extra = {}
        if "CHORUS_PUBLIC_BASE_URL" not in os.environ:
            extra["CHORUS_PUBLIC_BASE_URL"] = f"http://{LOOPBACK}:{port}"
        if "CHORUS_PLATFORM_SANDBOX_URL" not in os.environ:
            extra["CHORUS_PLATFORM_SANDBOX_URL"] = f"http://{LOOPBACK}:{SANDBOX_PORT}"
        if "CHORUS_STRIPE_API_BASE" not in os.environ:  # Billing (issue #8)
            extra["CHORUS_STRIPE_API_BASE"] = f"http://{LOOPBACK}:{STRIPE_PORT}"
            extra["CHORUS_STRIPE_ENVIRONMENT"] = "local"
            extra["CHORUS_STRIPE_LOCAL_WEBHOOKS"] = "true"
        env = stack.child_env(extra)
        if env.get("CHORUS_PLATFORM_SANDBOX_URL"):
            say(
                "TEST MODE: every platform connector talks to the local sandbox "
                f"({env['CHORUS_PLATFORM_SANDBOX_URL']}), no real social network; set "
                "CHORUS_PLATFORM_SANDBOX_URL= (empty) and CHORUS_PLATFORM_APPS for real ones"
            )
        steps = [
            _alembic(["upgrade", "head"]),
            ChildSpec("seed-demo", (PY, "-m", "shared.cli", "seed-demo")),
        ]
        for step in steps:
            status = run_one(trap, env, ROOT, step)
            if trap.first is not None:
                return 0
            if status != 0:
                say(f"{step.name} failed (exit {status}); not starting the services")
                return status

        services = app_services(port)
        with Supervisor(trap, env, ROOT) as supervisor:
            for spec in services:
                supervisor.start(spec)
            if env.get("CHORUS_PLATFORM_SANDBOX_URL"):
                # The sandbox forgets everything when it stops: connect the demo's accounts
                # again, through it, each time.
                supervisor.start(
                    ChildSpec(
                        "demo-connect", (PY, "-m", "shared.cli", "demo-connect"), one_shot=True
                    )
                )
            api = f"http://{LOOPBACK}:{port}"
            say(f"running {', '.join(s.name for s in services)}: API {api}, docs {api}/docs")
            say("press Ctrl-C to stop everything")
            outcome = supervisor.wait()
            if outcome.signal is not None:
                say(f"{name(outcome.signal)} received; stopping")
                return 0
            say(f"{outcome.child} exited (exit {outcome.returncode}); stopping the others")
            return outcome.returncode or 1

    return _with_stack(body, interrupt_status=0)


def cmd_stop(args: list[str]) -> int:
    """stop: stop embedded servers left running by a killed devstack (unless one uses them)."""
    return stop_embedded(DATA_DIR)


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
        "CHORUS_REDIS_URL) when set, else embedded servers with their data in .data/.",
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

    return _with_stack(body)


def _with_stack(body: Body, interrupt_status: int | None = None) -> int:
    """Run `body` with the backing servers up; stop them afterwards, whatever happens.

    Interrupted while the servers were starting: exit with `interrupt_status`, by default the
    shell's 128+N (130 for Ctrl-C)."""
    with SignalTrap() as trap:
        try:
            with DevStack(DATA_DIR, os.environ, trap) as stack:
                for line in stack.summaries():
                    say(line)
                return body(stack, trap)
        except Interrupted as exc:
            say(f"{name(exc.signum)} received while starting; stopped")
            return 128 + exc.signum if interrupt_status is None else interrupt_status
