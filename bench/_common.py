"""What every benchmark needs: a fresh migrated database of its own (dropped at the end), the
real API under uvicorn in a child process on a free loopback port, and small statistics.

The servers come from ``DATABASE_URL`` / ``REDIS_URL`` (``make bench`` sets them), falling back
to the local ones (postgresql://postgres@127.0.0.1:5432, redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def server_url() -> URL:
    raw = os.environ.get("DATABASE_URL") or os.environ.get("CHORUS_DATABASE_URL")
    url = make_url(raw or "postgresql://postgres@127.0.0.1:5432/postgres")
    return url.set(drivername="postgresql+asyncpg")


def redis_url() -> str:
    raw = os.environ.get("REDIS_URL") or os.environ.get("CHORUS_REDIS_URL")
    return raw or "redis://127.0.0.1:6379/0"


def plain(url: URL) -> str:
    """The URL as libpq/asyncpg spell it (no SQLAlchemy driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(server: URL, sql: str) -> None:
    engine = create_async_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@contextlib.asynccontextmanager
async def fresh_database(tag: str) -> AsyncIterator[URL]:
    """A new database migrated to head; dropped (even after a failure) when the block ends."""
    server = server_url()
    name = f"chorus_bench_{tag}_{uuid.uuid4().hex[:8]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    url = server.set(database=name)
    try:
        cfg = Config(str(ROOT / "alembic.ini"))
        cfg.set_main_option("script_location", str(ROOT / "migrations"))
        cfg.attributes["url"] = url.render_as_string(hide_password=False)
        await asyncio.to_thread(command.upgrade, cfg, "head")
        yield url
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def api_server(
    database: URL, app: str = "services.api.app:create_app", env: dict[str, str] | None = None
) -> Iterator[str]:
    """uvicorn (one process; uvloop and httptools when installed, as uvicorn picks them)
    serving ``app``, with ``env`` added to its environment; yields its base URL and stops it
    at the end."""
    with api_process(database, app, env) as (base, _):
        yield base


@contextlib.contextmanager
def api_process(
    database: URL, app: str = "services.api.app:create_app", env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``api_server`` that also yields the server's process (to read its CPU time)."""
    port = free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": plain(database),
        "REDIS_URL": redis_url(),
        "CHORUS_ENV": "development",
        "CHORUS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(args, cwd=ROOT, env=child_env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited with {process.returncode} before it was ready")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=0.2),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError("the API did not start listening within 30 s")


@dataclass(frozen=True)
class Tenant:
    agency_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_up(http: aiohttp.ClientSession, base: str) -> Tenant:
    body = {
        "agency_name": "Bench Agency",
        "full_name": "Bench Owner",
        "email": f"bench-{uuid.uuid4().hex[:8]}@agency.example",
        "password": PASSWORD,
    }
    async with http.post(f"{base}/v1/auth/signup", json=body) as response:
        data: dict[str, Any] = await response.json()
        assert response.status == 201, data
    return Tenant(data["agency_id"], data["access_token"])


async def create_brand(http: aiohttp.ClientSession, base: str, tenant: Tenant, name: str) -> str:
    async with http.post(f"{base}/v1/brands", json={"name": name}, headers=tenant.headers) as r:
        data: dict[str, Any] = await r.json()
        assert r.status == 201, data
    return str(data["id"])


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


# Realistic location files ------------------------------------------------------------------

CITIES: tuple[tuple[str, str, str, str, str], ...] = (
    # city, region, country, time zone, postal code prefix
    ("New York", "NY", "US", "America/New_York", "100"),
    ("Brooklyn", "NY", "US", "America/New_York", "112"),
    ("Boston", "MA", "US", "America/New_York", "021"),
    ("Chicago", "IL", "US", "America/Chicago", "606"),
    ("Austin", "TX", "US", "America/Chicago", "787"),
    ("Denver", "CO", "US", "America/Denver", "802"),
    ("Phoenix", "AZ", "US", "America/Phoenix", "850"),
    ("Seattle", "WA", "US", "America/Los_Angeles", "981"),
    ("San Diego", "CA", "US", "America/Los_Angeles", "921"),
    ("Toronto", "ON", "CA", "America/Toronto", "M5V"),
    ("Vancouver", "BC", "CA", "America/Vancouver", "V6B"),
    ("Ciudad de México", "CDMX", "MX", "America/Mexico_City", "06"),
    ("London", "", "GB", "Europe/London", "EC1"),
    ("Manchester", "", "GB", "Europe/London", "M1"),
    ("Dublin", "", "IE", "Europe/Dublin", "D02"),
    ("Berlin", "BE", "DE", "Europe/Berlin", "101"),
    ("München", "BY", "DE", "Europe/Berlin", "803"),
    ("Köln", "NW", "DE", "Europe/Berlin", "506"),
    ("Paris", "IDF", "FR", "Europe/Paris", "750"),
    ("Lyon", "ARA", "FR", "Europe/Paris", "690"),
    ("Madrid", "MD", "ES", "Europe/Madrid", "280"),
    ("Barcelona", "CT", "ES", "Europe/Madrid", "080"),
    ("Milano", "MI", "IT", "Europe/Rome", "201"),
    ("Amsterdam", "NH", "NL", "Europe/Amsterdam", "101"),
    ("Zürich", "ZH", "CH", "Europe/Zurich", "80"),
    ("Wien", "", "AT", "Europe/Vienna", "10"),
    ("Stockholm", "", "SE", "Europe/Stockholm", "111"),
    ("Warszawa", "", "PL", "Europe/Warsaw", "00-"),
    ("Sydney", "NSW", "AU", "Australia/Sydney", "20"),
    ("Melbourne", "VIC", "AU", "Australia/Melbourne", "30"),
    ("Tokyo", "", "JP", "Asia/Tokyo", "100-"),
    ("São Paulo", "SP", "BR", "America/Sao_Paulo", "01310-"),
)
STREETS = ("Main St", "High Street", "Market Square", "Hauptstraße", "Rue de Rivoli", "Gran Vía",
           "Via Roma", "King St W", "Elm Ave", "Harbour Rd")  # fmt: skip
MANAGERS = ("Jo Park", "Sam Rivera", "Ana Müller", "Luc Martin", "Mia Rossi", "Ken Sato",
            "Ola Nowak", "Eve O'Brien", "Raj Patel", "Zoë Dubois")  # fmt: skip
REGION_GROUPS = ("North", "South", "East", "West", "Central")
HEADER = (
    "external_ref,name,address_line1,address_line2,city,region,postal_code,country,time_zone,"
    "phone,website,status,groups,custom.manager,custom.seats,custom.opened_on,custom.franchisee"
)


def _phones(country: str, rng: Any, count: int) -> list[str]:
    """Valid numbers for ``country``: its example number with the last digits varied."""
    import phonenumbers

    example = phonenumbers.example_number_for_type(
        country, phonenumbers.PhoneNumberType.FIXED_LINE
    ) or phonenumbers.example_number(country)
    assert example is not None, country
    national = str(example.national_number)
    out: list[str] = []
    for _ in range(count * 3):
        candidate = national[:-3] + f"{rng.randrange(1000):03d}"
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            # Written the way people write them: the national form, spaces and all.
            out.append(
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            )
        if len(out) == count:
            break
    return out or [phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)]


def locations_csv(rows: int, *, seed: int = 7, prefix: str = "store") -> str:
    """``rows`` distinct locations across 32 cities in 21 countries, with phones, websites,
    four custom fields, one or two groups each, and the odd quoted comma in an address."""
    import csv
    import io
    import random

    rng = random.Random(seed)
    phones = {c[2]: _phones(c[2], rng, 200) for c in CITIES}
    franchisees = [f"Franchisee {n:03d}" for n in range(40)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(HEADER + "\r\n")
    for n in range(rows):
        city, region, country, zone, postal = CITIES[n % len(CITIES)]
        number = rng.randrange(1, 400)
        street = STREETS[rng.randrange(len(STREETS))]
        groups = [REGION_GROUPS[n % len(REGION_GROUPS)]]
        if rng.random() < 0.6:
            groups.append(franchisees[rng.randrange(len(franchisees))])
        writer.writerow(
            [
                f"{prefix}-{n:05d}",
                f"Slice & Co {city} #{n}",
                f"{number} {street}" if rng.random() < 0.9 else f"{street}, Unit {number}",
                f"Suite {rng.randrange(100, 999)}" if rng.random() < 0.2 else "",
                city,
                region,
                f"{postal}{rng.randrange(10, 99)}",
                country,
                zone,
                rng.choice(phones[country]),
                f"slice.example/{country.lower()}/{n}" if rng.random() < 0.7 else "",
                "active" if rng.random() < 0.9 else "paused",
                ";".join(groups),
                rng.choice(MANAGERS),
                str(rng.randrange(10, 120)),
                f"20{rng.randrange(10, 26)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                "yes" if len(groups) > 1 else "",
            ]
        )
    return buffer.getvalue()
