"""``POST /preview``: the one route the live preview's script (static/preview.js) calls on
both pages that show a post from a template, the approval page and the compose page. It
writes nothing; it answers the same partial the pages include, and the slots' problems."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from services.api.deps import Session
from services.web import preview as live
from services.web import security
from services.web.deps import SignedIn
from services.web.rendering import translator
from services.web.routes import approvals, compose
from services.web.routing import web_router

router = web_router()


@router.post("/preview")
async def live_preview(request: Request, viewer: SignedIn, session: Session) -> Response:
    """``post_id`` (an approval: its campaign's posts at this location) or ``template_id``
    (a new post, with its ``platforms``), and the ``slot.*`` fields."""
    t = translator(request)
    form = await request.form()
    if form.get("post_id"):
        asked = await approvals.load(session, viewer, str(form.get("post_id")))
        values = live.slot_values_of(form, asked.slots)
        preview = await approvals.preview_of(session, viewer, t, asked, values)
    else:
        chosen = await compose.load_template(session, viewer, str(form.get("template_id")))
        values = live.slot_values_of(form, chosen.slots)
        platforms = compose.chosen_platforms(form, chosen)
        # The files ticked in the pickers, as the page's own Preview button shows them.
        files = await compose.files_of(session, viewer, t, form, chosen, None)
        media = files.media if files.usable else None
        preview = await compose.preview_of(session, viewer, t, chosen, values, platforms, media)
    response = JSONResponse(
        {
            "html": live.render_fragment(request, preview),
            "problems": preview.slot_problems,
            "count": preview.count,
        }
    )
    security.add_headers(response)
    return response
