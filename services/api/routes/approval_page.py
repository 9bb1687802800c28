"""The page an emailed approval link opens, for a franchisee who only reads email: no login,
the signed token is the credential.

``GET /approval-link?token=…`` only shows what the link would do (mail scanners open every
link they see); the button on it posts the decision (with an optional comment; a rejection
needs one) to ``POST /approval-link``. The same checks as the API's
``/v1/approval-links`` apply: forged or expired links, a recipient who lost the permission,
a link already used, a post that no longer waits.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse

from services.api.deps import Redis, Session, SettingsDep
from shared.approvals import service as approval_service
from shared.errors import AppError

router = APIRouter(include_in_schema=False)

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}blockquote{border-left:4px solid #ccc;margin:1rem 0;padding:.5rem 1rem;"
    "white-space:pre-wrap}button{font-size:1rem;padding:.5rem 1.2rem}textarea{width:100%}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html lang=en><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<meta name=robots content=noindex><title>{escape(title)} · Chorus</title>"
        f"<style>{_STYLE}</style><h1>{escape(title)}</h1>{body}</html>"
    )
    # The signed token is in the URL: no referrer; no scripts, frames or foreign forms.
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _problem(exc: AppError) -> HTMLResponse:
    return _page("This link cannot be used", f"<p>{escape(exc.message)}</p>", exc.status_code)


@router.get("/approval-link")
async def show(
    session: Session,
    settings: SettingsDep,
    redis: Redis,
    token: Annotated[str, Query(min_length=1, max_length=512)],
) -> HTMLResponse:
    try:
        view = await approval_service.preview_link(session, settings, redis, token)
    except AppError as exc:
        await session.rollback()
        return _problem(exc)
    post, location = view.post, view.location
    verb = "Approve" if view.claims.decision == "approve" else "Reject"
    when = (
        post.scheduled_at.strftime("%Y-%m-%d %H:%M UTC")
        if post.scheduled_at
        else "as soon as approved"
    )
    facts = (
        f"<p><b>{escape(location.name)}</b>, {escape(location.city)} · {escape(post.platform)} "
        f"· {escape(when)}</p><blockquote>{escape(post.text)}</blockquote>"
    )
    if not view.usable:
        return _page(f"{verb} this post?", facts + f"<p>{escape(view.reason or '')}</p>")
    comment = (
        "<label>Why (the location will see it)<br><textarea name=comment rows=3 required>"
        "</textarea></label>"
        if verb == "Reject"
        else "<label>Comment (optional)<br><textarea name=comment rows=2></textarea></label>"
    )
    form = (
        f"<form method=post action=/approval-link><input type=hidden name=token "
        f"value='{escape(token, quote=True)}'>{comment}<p><button>{verb}</button></p></form>"
    )
    return _page(f"{verb} this post?", facts + form)


@router.post("/approval-link")
async def decide(
    session: Session,
    settings: SettingsDep,
    redis: Redis,
    token: Annotated[str, Form(min_length=1, max_length=512)],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    try:
        post = await approval_service.use_link(session, settings, redis, token, comment)
    except AppError as exc:
        await session.rollback()  # nothing of a refused decision is kept
        return _problem(exc)
    outcome = {
        "scheduled": "Approved: it will be published at its time.",
        "skipped": "Approved, but its time had passed: it will not be published.",
        "cancelled": "Rejected: the location will see your comment.",
    }.get(post.status, f"Done: the post is now {post.status}.")
    return _page("Thank you", f"<p>{escape(outcome)}</p>")
