"""The sandbox ASGI app. Start it with
``python -m uvicorn services.sandbox.app:create_app --factory --port 8790``.

Platforms: each under ``/{platform}`` (all of a platform's real hosts collapse onto that one
prefix), with the same paths as the real APIs below it; each module's docstring lists its
routes and where it departs from the real API:
- ``facebook``: Graph ``/v21.0`` (login, pages, feed/photos, published_posts, ratings,
  comments, insights);
- ``instagram``: Instagram API with Instagram Login (containers, media_publish, publishing
  limit, insights);
- ``x``: API v2 (OAuth 2.0 with PKCE, tweets, media upload, user timeline);
- ``linkedin``: Community Management API (organizations, ``/rest/posts``, share statistics);
- ``google_business``: Google OAuth, Business Profile accounts/locations, v4 local posts and
  reviews, Performance API;
- ``pinterest``: API v5 (boards, pins, user analytics);
- ``tiktok``: Login Kit and Content Posting API v2 (creator info, init, status, video list);
- ``yelp``: Fusion v3 businesses and reviews (read-only, Chorus's own API key);
- ``youtube``: Google OAuth, Data API v3 (channels, multipart upload, videos, playlists),
  Analytics reports.

Publishes carry Chorus's reference in the ``X-Chorus-Client-Ref`` header; the sandbox stores
and counts every publish per reference and never dedupes.

Admin (``/_sandbox``): ``GET|PUT /faults/{platform}``, ``POST /reset``, ``GET /posts/{platform}``,
``GET /publish-counts/{platform}``, ``POST /clock/advance``, ``POST /tokens/{platform}/revoke``,
``GET /platforms``, ``GET|POST /reviews/{platform}/{account}``, ``PATCH
/reviews/{platform}/{account}/{review}``.

State is in memory, in this one process: run a single worker; a restart forgets everything.
"""

import asyncio

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.sandbox import (
    admin,
    facebook,
    google_business,
    instagram,
    linkedin,
    pinterest,
    tiktok,
    x,
    yelp,
    youtube,
)
from services.sandbox.config import SandboxConfig
from services.sandbox.faults import WRITES, request_method
from services.sandbox.state import Sandbox

MODULES = (facebook, instagram, x, linkedin, google_business, pinterest, tiktok, youtube)
PLATFORMS = tuple(m.PLATFORM for m in MODULES)


class _MethodContext:
    """Tells the fault book which method the request has (late commits delay writes only),
    and reads a write's whole body before the platform's handler runs: a late commit waits
    until after the client has gone, and the handler must still find the body it was sent
    (a real platform has it from the moment the request arrived)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._writes: set[asyncio.Future[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_method.set(scope["method"])
        if scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # gone before it finished sending
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        # A write, once received, is the platform's: it completes even if the client hangs up
        # (or the server is told to drop the request), as it would at a real platform.
        task = asyncio.ensure_future(self.app(scope, replay, send))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        await asyncio.shield(task)


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    app = FastAPI(title="Chorus platform sandbox", docs_url="/_sandbox/docs", redoc_url=None)
    app.state.sandbox = Sandbox(config)
    app.state.platforms = frozenset(PLATFORMS)
    app.include_router(admin.router)
    for module in MODULES:
        app.include_router(module.router, prefix=f"/{module.PLATFORM}")
    yelp.install(app)  # read-only (reviews), not a platform locations connect to
    app.add_middleware(_MethodContext)
    return app
