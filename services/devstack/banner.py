"""The box ``make run`` prints once everything is up: where things are, and the logins.

Printed once, last, in one write under the console lock, so it is never split by a service's
line and it is the thing on screen when a person looks up.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from services.devstack.demo_logins import Login

UNICODE = ("╭", "╮", "╰", "╯", "─", "│")
ASCII = ("+", "+", "+", "+", "-", "|")


@dataclass(frozen=True)
class Address:
    label: str
    url: str
    note: str = ""


def render(
    title: str,
    addresses: Sequence[Address],
    logins: Sequence[Login],
    footer: Sequence[str],
    encoding: str | None = None,
) -> str:
    """The box as one string of lines (no trailing newline)."""
    label_width = max(len(a.label) for a in addresses)
    body = [
        f"{a.label:<{label_width}}  {a.url}" + (f"  ({a.note})" if a.note else "")
        for a in addresses
    ]
    if logins:
        role_width = max(len(login.role) for login in logins)
        email_width = max(len(login.email) for login in logins)
        body += ["", "Demo logins (email, password), the same at every start:"]
        body += [
            f"  {login.role:<{role_width}}  {login.email:<{email_width}}  {login.password}"
            + (f"  ({login.note})" if login.note else "")
            for login in logins
        ]
    body += ["", *footer]
    top_left, top_right, bottom_left, bottom_right, across, side = _frame(encoding)
    width = max(len(title) + 2, *(len(line) for line in body))
    lines = [top_left + across + f" {title} ".ljust(width + 1, across) + top_right]
    lines += [f"{side} {line:<{width}} {side}" for line in body]
    lines.append(bottom_left + across * (width + 2) + bottom_right)
    return "\n".join(lines)


def _frame(encoding: str | None) -> tuple[str, ...]:
    """Box-drawing characters where the terminal can show them, else plain ASCII."""
    name = encoding if encoding is not None else (sys.stderr.encoding or "ascii")
    try:
        "".join(UNICODE).encode(name)
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE
