"""The MIME message of an outbox mail: the text the caller wrote, and an HTML part rendered
from that same text (every character escaped, each http(s) link made an ``<a>``), so a
mail reader that prefers HTML shows exactly what the text says, with clickable links."""

from __future__ import annotations

import html
import re
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from shared.mail.models import OutboundEmail

_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\"…"
"""Punctuation that ends a sentence after a link rather than belonging to it."""
DEFAULT_DOMAIN = "chorus.localhost"


def linkify(text: str) -> str:
    """``text`` escaped for HTML, each http(s) URL in it an ``<a>``."""
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        parts.append(html.escape(text[last : match.start()]))
        href = html.escape(url, quote=True)
        parts.append(f'<a href="{href}">{href}</a>')
        last = end
    parts.append(html.escape(text[last:]))
    return "".join(parts)


def render_html(subject: str, body: str) -> str:
    """A whole HTML document showing ``body`` as written: line breaks and indentation kept
    (``pre-wrap``), nothing the text says read as markup."""
    return (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n"
        '<body><div style="white-space: pre-wrap; font-family: sans-serif; line-height: 1.4">'
        f"{linkify(body)}</div></body></html>\n"
    )


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or DEFAULT_DOMAIN


def message_id(email: OutboundEmail, sender: str) -> str:
    """The same on every attempt, so a receiver that got a mail twice (accepted, then our
    commit failed) can tell the copies are one mail."""
    return f"<{email.id}@{sender_domain(sender)}>"


def _one_line(value: str) -> str:
    return " ".join(value.split())


def build(email: OutboundEmail, *, sender: str, now: datetime) -> EmailMessage:
    """``multipart/alternative``: text/plain first, text/html second (the one readers prefer).
    Raises ``ValueError`` for an address that cannot be written in a header."""
    message = EmailMessage()
    name, address = parseaddr(sender)
    if "@" not in address:
        raise ValueError(f"the sender {sender!r} has no address; set CHORUS_SMTP_FROM")
    message["From"] = Address(display_name=name, addr_spec=address)
    try:
        message["To"] = Address(addr_spec=email.to_address)
    except (ValueError, MessageError) as exc:
        raise ValueError(f"the address {email.to_address!r} cannot be mailed ({exc})") from exc
    message["Subject"] = _one_line(email.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(email, sender)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body)
    message.add_alternative(render_html(_one_line(email.subject), email.body), subtype="html")
    return message
