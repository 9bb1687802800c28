"""``python -m services.devstack.demo_task``: the demo agency of ``make run``, in one process.

It seeds the demo agency with the password the devstack keeps (``CHORUS_DEMO_PASSWORD``, see
`services.devstack.demo_logins`), then, in test mode, connects the demo locations' accounts
through the platform sandbox. One process instead of two (``shared.cli seed-demo`` then
``demo-connect``) pays for importing the application once, and it runs beside the services
as they start instead of before them: the second start no longer waits for it. It prints no
logins: the devstack does, once, in its box.
"""

from __future__ import annotations

import asyncio
import os
import sys

from services.devstack.demo_logins import PASSWORD_ENV, READY_LINE
from shared.cli import seed_demo
from shared.config import Settings, get_settings
from shared.demo import DEMO_LOCATIONS
from shared.demo_connect import DEMO_PLATFORMS, connect_demo


async def prepare(settings: Settings, password: str) -> str:
    """Seed (and in test mode connect) the demo; a one-line summary of what is ready."""
    await seed_demo(settings, password)
    summary = f"{READY_LINE} ({len(DEMO_LOCATIONS)} locations)"
    if settings.platform_sandbox_url:
        done = await connect_demo(settings)
        summary += (
            f"; {done.accounts} social accounts connected through the sandbox "
            f"({', '.join(DEMO_PLATFORMS)})"
        )
    return summary


def main() -> int:
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        print(f"{PASSWORD_ENV} is not set (make run sets it)", file=sys.stderr)
        return 2
    print(asyncio.run(prepare(get_settings(), password)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
