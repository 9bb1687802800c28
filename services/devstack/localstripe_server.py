"""``python -m services.devstack.localstripe_server --port P``: localstripe on 127.0.0.1 only.

Why not the ``localstripe`` command: it listens on every interface (``::`` with IPv4 mapped),
which puts a fake Stripe, and whatever test customers it holds, on the network. This serves
the same application, with the same store (loaded from localstripe's file as its command
does) and the same access log, on the loopback address only, like every other service of
``make run``.
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web
from localstripe.resources import store  # type: ignore[import-untyped]
from localstripe.server import app  # type: ignore[import-untyped]

from services.devstack.urls import LOOPBACK


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.devstack.localstripe_server")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    store.try_load_from_disk()
    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.DEBUG)
    access.addHandler(logging.StreamHandler())
    web.run_app(app, host=LOOPBACK, port=args.port, access_log=access, print=None)


if __name__ == "__main__":
    main()
