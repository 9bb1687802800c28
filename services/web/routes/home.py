"""Home: what needs me now, for the location I am looking at; and the location switcher."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from services.api.deps import Session
from services.web import home_view
from services.web import sessions as web_sessions
from services.web.deps import SignedIn
from services.web.post_words import PLATFORM_NAMES, STATUS_NAMES
from services.web.rendering import redirect, render, safe_next
from services.web.routing import web_router
from shared.access.policy import Target, authorize

router = web_router()


@router.get("/")
async def home(request: Request, viewer: SignedIn, session: Session) -> Response:
    location = viewer.location
    data = await home_view.load(session, viewer, location) if location else None
    return render(
        request,
        "home/index.html",
        {
            "location": location,
            "home": data,
            "platform_names": PLATFORM_NAMES,
            "status_names": STATUS_NAMES,
        },
    )


@router.post("/switch-location")
async def switch_location(
    viewer: SignedIn,
    session: Session,
    location_id: Annotated[uuid.UUID, Form()],
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Kept in the session; the policy decides (another's location is the 404 page)."""
    listed = next((c for c in viewer.locations if c.id == location_id), None)
    target = Target(brand_id=listed.brand_id if listed else None, location_id=location_id)
    authorize(viewer.principal, "location.read", target, object_type="location")
    await web_sessions.choose_location(session, viewer.session, location_id)
    return redirect(safe_next(next_path))
