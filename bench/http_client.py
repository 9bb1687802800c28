"""Publishing 10,000 posts straight through one connector to the sandbox, 100 in flight.

    make bench NAME=http_client        (or: python bench/http_client.py; needs no database)

1. Start the platform sandbox (uvicorn, its own process, a free port) and connect 100 Facebook
   pages through the connector's own OAuth (a page's Business Use Case window is 4,800 calls a
   day, so 10,000 posts go to 100 pages, 100 each, as a real fan-out would spread them).
2. The floor: a bare aiohttp loop — one shared session, a semaphore of 100 — POSTing the same
   form to the same endpoint (``/{page}/feed``) with the same headers.
3. Ours: ``FacebookConnector.publish`` for each post (content checks, Bearer token from a
   ``Sealed``, the client reference header, the shared outbound client with its SSRF-safe
   session, timeouts, error classification, the answer parsed into ``Published``).
The two alternate (floor, ours, floor, ours) and each side's best run counts; after each
run the sandbox's publish counts are checked: every client reference exactly once.

Ends with ``RESULT http_client posts_per_s=<ours> ratio=<ours/floor> cpu_ratio=<ours/floor>``
(client CPU per post: the sandbox, one Python process, bounds both loops' throughput).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import free_port
from shared.config import Settings
from shared.crypto import Sealed
from shared.http import OutboundHttp
from shared.platforms.facebook import FacebookConnector
from shared.platforms.types import AccountAuth, AppCredentials, PostContent

POSTS = 10_000
IN_FLIGHT = 100
PAGES = 100
ROUNDS = 2
REDIRECT = "https://chorus.bench/v1/social-accounts/oauth/callback"


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "services.sandbox.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent)


async def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/_sandbox/platforms") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            await asyncio.sleep(0.1)


async def connect_pages(connector: FacebookConnector) -> list[AccountAuth]:
    pages: list[AccountAuth] = []
    async with aiohttp.ClientSession() as browser:
        while len(pages) < PAGES:
            request = connector.authorize_url("bench", REDIRECT)
            async with browser.get(request.url, allow_redirects=False) as answer:
                back = parse_qs(urlsplit(answer.headers["Location"]).query)
            grant = await connector.exchange_code(back["code"][0], REDIRECT, None)
            for choice in grant.choices:
                assert choice.access_token is not None
                pages.append(AccountAuth(choice.external_id, choice.access_token))
    return pages[:PAGES]


async def check_counts(url: str, prefix: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/_sandbox/publish-counts/facebook") as answer,
    ):
        counts: dict[str, int] = (await answer.json())["counts"]
    mine = {ref: n for ref, n in counts.items() if ref.startswith(prefix)}
    if len(mine) != POSTS or set(mine.values()) != {1}:
        raise SystemExit(f"{prefix}: {len(mine)} references, counts {set(mine.values())}")


async def bare_loop(url: str, pages: list[AccountAuth], prefix: str) -> tuple[float, float]:
    semaphore = asyncio.Semaphore(IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            page = pages[i % len(pages)]
            async with (
                semaphore,
                session.post(
                    f"{url}/facebook/v21.0/{page.external_id}/feed",
                    data={"message": f"Fresh pizza #{i}"},
                    headers={
                        "Authorization": f"Bearer {page.access_token.reveal()}",
                        "X-Chorus-Client-Ref": f"{prefix}{i}",
                    },
                ) as answer,
            ):
                body = await answer.json()
                if answer.status != 200 or "id" not in body:
                    raise RuntimeError(f"bare publish failed: {answer.status} {body}")

        return await _timed(one)


async def _timed(one: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    """Wall seconds for all posts, and this process's CPU microseconds per post."""
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(POSTS)))
    return time.perf_counter() - started, 1e6 * (time.process_time() - cpu) / POSTS


async def through_connector(
    connector: FacebookConnector, pages: list[AccountAuth], prefix: str
) -> tuple[float, float]:
    semaphore = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with semaphore:
            done = await connector.publish(
                pages[i % len(pages)], PostContent(text=f"Fresh pizza #{i}"), f"{prefix}{i}"
            )
            if not done.external_id:
                raise RuntimeError("no external id")

    return await _timed(one)


async def main() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox = start_sandbox(port)
    try:
        await wait_ready(url)
        settings = Settings(env="test", platform_sandbox_url=url, log_level="WARNING")
        http = OutboundHttp(settings)
        connector = FacebookConnector(
            AppCredentials("chorus-bench", Sealed("bench-secret")), sandbox_url=url, http=http
        )
        pages = await connect_pages(connector)
        print(f"sandbox on {url}; {len(pages)} pages connected; {POSTS} posts per run")
        floor: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for r in range(ROUNDS):
            for label, runs, run in (
                ("bare aiohttp loop", floor, bare_loop(url, pages, f"bare{r}-")),
                ("through connector", ours, through_connector(connector, pages, f"conn{r}-")),
            ):
                seconds, cpu_us = await run
                await check_counts(url, f"{'bare' if runs is floor else 'conn'}{r}-")
                runs.append((seconds, cpu_us))
                print(
                    f"  {label} : {seconds:6.2f} s  {POSTS / seconds:7.0f} posts/s  "
                    f"client CPU {cpu_us:5.0f} us/post"
                )
        await http.close()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    ours_rate = POSTS / min(t for t, _ in ours)
    floor_rate = POSTS / min(t for t, _ in floor)
    cpu_ratio = min(c for _, c in ours) / min(c for _, c in floor)
    print(
        f"best: connector {ours_rate:.0f} posts/s, bare loop {floor_rate:.0f} posts/s "
        "(each publish checked at the sandbox: every reference once); the one sandbox process "
        f"bounds both, so client CPU per post shows the connector's own cost: x{cpu_ratio:.2f}"
    )
    print(
        f"RESULT http_client posts_per_s={ours_rate:.0f} ratio={ours_rate / floor_rate:.2f} "
        f"cpu_ratio={cpu_ratio:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
