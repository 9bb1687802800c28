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

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

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
from services.sandbox.faults import request_method
from services.sandbox.state import Sandbox

MODULES = (facebook, instagram, x, linkedin, google_business, pinterest, tiktok, youtube)
PLATFORMS = tuple(m.PLATFORM for m in MODULES)


class _MethodContext:
    """Tells the fault book which method the request has (late commits delay writes only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request_method.set(scope["method"])
        await self.app(scope, receive, send)


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
