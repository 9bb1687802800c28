"""The catcher's pages: the list of mail, one mail, its HTML on its own (for the frame), the
JSON the tests read, and the identity the dev stack checks.

Everything a mail says is escaped before it reaches a page. Its HTML part is shown only in a
sandboxed frame and is served with a CSP that sandboxes it too (no script runs, even when
opened directly); its links open in a new tab. The pages themselves load nothing but
themselves and that frame.
"""

from __future__ import annotations

import html

from aiohttp import web

from services.mailcatcher.mailbox import CaughtMail, Mailbox
from shared.mail.message import linkify

MAILBOX = web.AppKey("mailbox", Mailbox)
IDENTITY = {"service": "chorus-mailcatcher"}

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAIL_HTML_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; }
td.time { white-space: nowrap; color: #555; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 1rem; }
iframe { width: 100%; height: 60vh; border: 1px solid #ccc; resize: vertical; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, *, refresh: bool = False, status: int = 200) -> web.Response:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
    return web.Response(
        text=document,
        status=status,
        content_type="text/html",
        headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"},
    )


def _mail_or_404(request: web.Request) -> CaughtMail:
    raw = request.match_info["mail_id"]
    mail = request.app[MAILBOX].get(int(raw)) if raw.isdecimal() and len(raw) < 19 else None
    if mail is None:
        raise web.HTTPNotFound(
            text=f"no mail {raw!r} here (the catcher keeps only recent mail in memory)"
        )
    return mail


async def index(request: web.Request) -> web.Response:
    mails = request.app[MAILBOX].newest_first()
    rows = "".join(
        f'<tr><td class="time">{_e(m.received_at.strftime("%Y-%m-%d %H:%M:%S"))} UTC</td>'
        f"<td>{_e(', '.join(m.recipients))}</td>"
        f'<td><a href="/messages/{m.id}">{_e(m.subject or "(no subject)")}</a></td></tr>'
        for m in mails
    )
    table = (
        "<table><thead><tr><th>Received</th><th>To</th><th>Subject</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if mails
        else "<p>No mail yet. Mail Chorus sends in development lands here.</p>"
    )
    heading = f"<h1>Mail caught ({len(mails)})</h1>"
    return _page(f"Mail ({len(mails)})", heading + table, refresh=True)


async def message(request: web.Request) -> web.Response:
    mail = _mail_or_404(request)
    facts = (
        f"<dt>Received</dt><dd>{_e(mail.received_at.isoformat())}</dd>"
        f"<dt>From</dt><dd>{_e(mail.from_header or mail.mail_from)}</dd>"
        f"<dt>To</dt><dd>{_e(', '.join(mail.recipients))}</dd>"
        f"<dt>Subject</dt><dd>{_e(mail.subject)}</dd>"
    )
    parts = ""
    if mail.html is not None:
        parts += (
            "<h2>HTML</h2>"
            f'<iframe title="The mail as HTML" sandbox="{FRAME_SANDBOX}" '
            f'src="/messages/{mail.id}/html"></iframe>'
        )
    if mail.text is not None:
        parts += f"<h2>Text</h2><pre>{linkify(mail.text)}</pre>"
    if not parts:
        parts = "<p>This mail has neither a text nor an HTML part.</p>"
    body = (
        '<p><a href="/">← all mail</a></p>'
        f"<h1>{_e(mail.subject or '(no subject)')}</h1><dl>{facts}</dl>{parts}"
    )
    return _page(mail.subject or "(no subject)", body)


async def message_html(request: web.Request) -> web.Response:
    mail = _mail_or_404(request)
    if mail.html is None:
        raise web.HTTPNotFound(text="this mail has no HTML part")
    return web.Response(
        text=_links_open_outside(mail.html),
        content_type="text/html",
        headers={"Content-Security-Policy": MAIL_HTML_CSP, "X-Content-Type-Options": "nosniff"},
    )


def _links_open_outside(document: str) -> str:
    """Every link of the mail opens in a new tab (outside the sandbox), not inside the frame:
    a ``<base target>`` first thing, after the doctype (before it, the page would render in
    quirks mode). The parser puts it in the head, wherever the mail's own head starts."""
    base = '<base target="_blank">'
    stripped = document.lstrip()
    if stripped[:9].lower() == "<!doctype" and ">" in stripped:
        end = stripped.index(">") + 1
        return stripped[:end] + base + stripped[end:]
    return base + document


async def api_messages(request: web.Request) -> web.Response:
    return web.json_response([m.as_json() for m in request.app[MAILBOX].newest_first()])


async def api_message(request: web.Request) -> web.Response:
    return web.json_response(_mail_or_404(request).as_json())


async def api_clear(request: web.Request) -> web.Response:
    request.app[MAILBOX].clear()
    return web.Response(status=204)


async def identity(request: web.Request) -> web.Response:
    return web.json_response(IDENTITY)


def create_app(mailbox: Mailbox) -> web.Application:
    app = web.Application()
    app[MAILBOX] = mailbox
    app.router.add_get("/", index)
    app.router.add_get("/messages/{mail_id}", message)
    app.router.add_get("/messages/{mail_id}/html", message_html)
    app.router.add_get("/api/messages", api_messages)
    app.router.add_get("/api/messages/{mail_id}", api_message)
    app.router.add_delete("/api/messages", api_clear)
    app.router.add_get("/_identity", identity)
    return app
