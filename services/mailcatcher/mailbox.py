"""The caught mail, in memory, newest last; the oldest is forgotten past ``keep``."""

from __future__ import annotations

import email
import email.policy
import itertools
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from typing import Any


@dataclass(frozen=True)
class CaughtMail:
    id: int
    received_at: datetime
    mail_from: str
    recipients: tuple[str, ...]
    subject: str
    from_header: str
    to_header: str
    text: str | None
    html: str | None
    size: int

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "mail_from": self.mail_from,
            "recipients": list(self.recipients),
            "from": self.from_header,
            "to": self.to_header,
            "subject": self.subject,
        }

    def as_json(self) -> dict[str, Any]:
        return self.summary() | {"text": self.text, "html": self.html, "size": self.size}


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else None


def _header(message: Message, name: str) -> str:
    try:
        return str(message.get(name, ""))
    except (LookupError, ValueError):  # a header the parser cannot decode
        return ""


class Mailbox:
    def __init__(self, keep: int = 500) -> None:
        self._mail: deque[CaughtMail] = deque(maxlen=keep)
        self._ids = itertools.count(1)

    def add(self, mail_from: str, recipients: list[str], raw: bytes) -> CaughtMail:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)  # the default policy's message class
        caught = CaughtMail(
            id=next(self._ids),
            received_at=datetime.now(UTC),
            mail_from=mail_from,
            recipients=tuple(recipients),
            subject=_header(parsed, "Subject"),
            from_header=_header(parsed, "From"),
            to_header=_header(parsed, "To"),
            text=_part(parsed, "plain"),
            html=_part(parsed, "html"),
            size=len(raw),
        )
        self._mail.append(caught)
        return caught

    def newest_first(self) -> list[CaughtMail]:
        return list(reversed(self._mail))

    def get(self, mail_id: int) -> CaughtMail | None:
        return next((m for m in self._mail if m.id == mail_id), None)

    def clear(self) -> None:
        self._mail.clear()
