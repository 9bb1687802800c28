"""The chaos test (see ``harness``): 2,000 posts, a slow and failing sandbox, two SIGKILLed
workers and a restarted Redis; at the end every post is published and the sandbox holds each
exactly once. Also runnable alone: ``python -m tests.chaos``. And issue #12's slow platform on
its own."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from tests.chaos import harness


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(harness.CHAOS, id="chaos"),
        # Answers just under the read timeout, a gate far smaller than a batch, a burst that
        # waits many lease lengths behind it, two workers, writes that land after the worker
        # gave up.
        pytest.param(harness.SLOW, id="slow-platform"),
    ],
)
async def test_every_post_reaches_the_platform_exactly_once(
    scenario: harness.Scenario,
    client: httpx.AsyncClient,
    admin_engine: AsyncEngine,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    sandbox_url: str,
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    outcome = await harness.run(
        client=client,
        engine=admin_engine,
        sandbox=sandbox,
        settings=settings,
        sandbox_url=sandbox_url,
        log_dir=tmp_path,
        say=lines.append,
        scenario=scenario,
    )
    problems = harness.check(outcome)
    assert not problems, "\n".join(problems + lines) + "\n" + _tails(tmp_path)


def _tails(log_dir: Path) -> str:
    """The end of each worker's log, for a failure's message."""
    return "\n".join(
        f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:]
        for log in sorted(log_dir.glob("worker-*.log"))
    )
