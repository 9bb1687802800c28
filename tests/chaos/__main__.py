"""``python -m tests.chaos [slow]`` (or ``make test ARGS=tests/chaos`` for the pytest form): the
chaos run (or, with ``slow``, the slow-platform case) on its own, printing as it goes. Uses
DATABASE_URL's server for a fresh database of its own, its own sandbox and Redis; exits 1 if any
post was lost or published twice."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import create_async_engine

from services.api.app import create_app
from shared.config import Settings
from tests.chaos import harness
from tests.conftest import _redis_url, _server_url, create_database, drop_database, migrate
from tests.support.sandbox_server import SandboxServer


async def main(scenario: harness.Scenario) -> int:
    server = _server_url()
    name = f"chorus_chaos_{uuid.uuid4().hex[:8]}"
    url = await create_database(server, name)
    sandbox_server = SandboxServer().start()
    try:
        await migrate(url)
        settings = Settings(
            env="test",
            database_url=url.render_as_string(hide_password=False),
            redis_url=_redis_url(),
            platform_sandbox_url=sandbox_server.url,
            log_level="WARNING",
        )
        engine = create_async_engine(url)
        app = create_app(settings)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://chorus.test"
            ) as client,
            httpx.AsyncClient(base_url=sandbox_server.url, timeout=30) as sandbox,
        ):
            with tempfile.TemporaryDirectory() as logs:
                outcome = await harness.run(
                    client=client,
                    engine=engine,
                    sandbox=sandbox,
                    settings=settings,
                    sandbox_url=sandbox_server.url,
                    log_dir=Path(logs),
                    say=print,
                    scenario=scenario,
                )
        await engine.dispose()
        problems = harness.check(outcome)
        for problem in problems:
            print(f"PROBLEM: {problem}")
        print("chaos: OK" if not problems else "chaos: FAILED")
        return 1 if problems else 0
    finally:
        sandbox_server.stop()
        await drop_database(server, name)


if __name__ == "__main__":
    chosen = harness.SLOW if sys.argv[1:] == ["slow"] else harness.CHAOS
    sys.exit(asyncio.run(main(chosen)))
