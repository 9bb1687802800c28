"""The sandbox ASGI app. Start it with
``python -m uvicorn services.sandbox.app:create_app --factory --port 8790``.

Platforms: each under ``/{platform}`` (all of a platform's real hosts collapse onto that one
prefix), with the same paths as the real APIs below it:
- Facebook Pages (Graph ``/v21.0``): ``GET /v21.0/dialog/oauth``,
  ``GET|POST /v21.0/oauth/access_token``, ``GET /v21.0/me``, ``GET /v21.0/me/accounts``,
  ``POST /v21.0/{page_id}/feed``, ``GET /v21.0/{post_id}``, ``DELETE /v21.0/{post_id}``.
- X (API v2): ``GET /i/oauth2/authorize``, ``POST /2/oauth2/token``, ``POST /2/oauth2/revoke``,
  ``GET /2/users/me``, ``POST /2/tweets``, ``GET /2/tweets/{id}``, ``DELETE /2/tweets/{id}``.

Publishes carry Chorus's reference in the ``X-Chorus-Client-Ref`` header; the sandbox stores
and counts every publish per reference and never dedupes.

Admin (``/_sandbox``): ``GET|PUT /faults/{platform}``, ``POST /reset``, ``GET /posts/{platform}``,
``GET /publish-counts/{platform}``, ``POST /clock/advance``, ``POST /tokens/{platform}/revoke``,
``GET /platforms``.

State is in memory, in this one process: run a single worker; a restart forgets everything.
"""

from fastapi import FastAPI

from services.sandbox import (
    admin,
    facebook,
    google_business,
    instagram,
    linkedin,
    pinterest,
    tiktok,
    x,
    youtube,
)
from services.sandbox.config import SandboxConfig
from services.sandbox.state import Sandbox

MODULES = (facebook, instagram, x, linkedin, google_business, pinterest, tiktok, youtube)
PLATFORMS = tuple(m.PLATFORM for m in MODULES)


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    app = FastAPI(title="Chorus platform sandbox", docs_url="/_sandbox/docs", redoc_url=None)
    app.state.sandbox = Sandbox(config)
    app.state.platforms = frozenset(PLATFORMS)
    app.include_router(admin.router)
    for module in MODULES:
        app.include_router(module.router, prefix=f"/{module.PLATFORM}")
    return app
