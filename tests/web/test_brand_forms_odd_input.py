"""Every form of the brand's and the agency's pages (issue #16) answers odd input with a page
that says what is wrong, never a server error: the pages are found by following the links of
the brand's navigation from the home page as its owner, every ``method=post`` form on them is
read as a browser reads it, and each is sent with its visible fields filled with numbers past
any column's range, other scripts, right-to-left overrides, 20,000 characters, blanks and
(in a file field) bytes that are not text; then the pages are crawled again to show none of
them broke."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.web import sign_in
from tests.support.web_brand_campaigns import draft, head_office

ODD_VALUES = (
    "9" * 30,
    "2147483648",
    "-9223372036854775809",
    "1e309",
    "Ελληνικά ✓ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 שלום 日本語",
    "\u202eevil\u202c",
    "x" * 20_000,
    "   ",
    "<script>alert(1)</script>",
    "2026-02-30",
    "25:61",
)
"""What goes into every visible field, one value per submission (NUL bytes are refused before
any route: tests/web/test_security.py)."""

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DESTRUCTIVE = ("/delete", "/remove", "/cancel", "/revoke")
"""Forms sent last, so that what they remove is still there for the others."""
VISIBLE = frozenset(
    {"text", "number", "email", "date", "time", "datetime-local", "url", "search", "tel"}
)
SKIPPED_ACTIONS = ("/logout", "/switch-brand", "/switch-agency", "/switch-location")
"""Forms that end or change the session the crawl runs in (they take no typed input)."""


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, kind, value): kind is an input's type, ``select``, ``textarea`` or ``file``."""


class _Reader(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.base, a["href"]))
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(urljoin(self.base, a.get("action") or self.base))
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "reset", "image"):
                self._form.fields.append((a["name"], kind, a.get("value", "")))
        elif tag == "button" and a.get("value"):
            self._form.fields.append((a["name"], "button", a["value"]))
        elif tag == "select":
            self._select, self._select_value = a["name"], None
        elif tag == "textarea":
            self._textarea = a["name"]
            self._form.fields.append((a["name"], "textarea", ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        elif tag == "select" and self._form is not None and self._select is not None:
            self._form.fields.append((self._select, "select", self._select_value or ""))
            self._select = None


def _read(url: str, html: str) -> _Reader:
    reader = _Reader(url)
    reader.feed(html)
    return reader


def _ours(url: str) -> bool:
    path = urlsplit(url).path
    return urlsplit(url).netloc in ("", "chorus.test") and (
        path == "/" or path.startswith(("/brand", "/agency"))
    )


def _shape(url: str) -> str:
    """A page's kind: its path with ids as ``{id}`` (one location's page stands for all)."""
    return UUID.sub("{id}", urlsplit(url).path)


async def _crawl(web: httpx.AsyncClient, limit: int = 150) -> dict[str, _Reader]:
    """One page of each kind of the brand's and agency's pages reachable from home by links
    (exports and downloads aside), each read; every page must answer 200."""
    seen: dict[str, _Reader] = {}
    shapes: set[str] = set()
    queue = ["https://chorus.test/"]
    while queue and len(seen) < limit:
        url = queue.pop(0).split("#")[0]
        if _shape(url) in shapes or not _ours(url) or "export" in url:
            continue
        shapes.add(_shape(url))
        answer = await web.get(url)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        seen[url] = _read(url, answer.text)
        queue.extend(link for link in seen[url].links if link not in seen)
    return seen


def _submission(form: Form, odd: str) -> tuple[dict[str, list[str]], dict[str, Any]]:
    data: dict[str, list[str]] = {}
    files: dict[str, Any] = {}
    for name, kind, value in form.fields:
        if kind == "file":
            files[name] = (
                "odd.csv",
                b"name,city\n\xff\xfe\x80 \xc3\x28\n" + odd.encode(),
                "text/csv",
            )
        elif kind in VISIBLE or kind in ("textarea", "select"):
            data.setdefault(name, []).append(odd)
        else:
            data.setdefault(name, []).append(value)
    return data, files


async def test_every_brand_and_agency_form_answers_odd_input_without_a_server_error(
    client: httpx.AsyncClient, browser_client: httpx.AsyncClient, admin_engine: AsyncEngine
) -> None:
    w = await head_office(client, admin_engine)
    await draft(client, w, name="Odd input week")
    await sign_in(browser_client, w.owner.email)

    # Round after round: what one round's forms made (a template's draft from "new version")
    # brings new forms to the next.
    sent: set[str] = set()
    reached: set[str] = set()
    answered: dict[int, int] = {}
    for _ in range(3):
        pages = await _crawl(browser_client)
        reached |= {_shape(u) for u in pages}
        forms = {
            _shape(form.action): form
            for reader in pages.values()
            for form in reader.forms
            if _ours(form.action) and not form.action.endswith(SKIPPED_ACTIONS)
        }
        new = [f for shape, f in forms.items() if shape not in sent]
        if not new:
            break
        sent |= set(forms)
        for form in sorted(new, key=lambda f: f.action.endswith(DESTRUCTIVE)):
            for odd in ODD_VALUES:
                data, files = _submission(form, odd)
                answer = await browser_client.post(form.action, data=data, files=files or None)
                assert answer.status_code < 500, (form.action, odd[:40], answer.text[:500])
                answered[answer.status_code] = answered.get(answer.status_code, 0) + 1
                if answer.status_code != 303:
                    assert "text/html" in answer.headers["content-type"], (form.action, odd[:40])
                    assert "<script>alert(1)</script>" not in answer.text, form.action

    # The crawl reached the brand's sections and their forms (a crawl that found nothing would
    # prove nothing).
    sections = {shape.split("/")[2] for shape in reached if shape.count("/") >= 2}
    assert {"locations", "groups", "templates", "rules", "campaigns", "calendar"} <= sections
    assert {"reviews", "approvals", "analytics"} <= sections
    assert {"members", "api-keys", "billing", "audit", "accounts"} <= sections
    # The template editor of the draft that an earlier round's "new version" made.
    assert any(re.fullmatch(r"/brand/templates/\{id\}/versions/\d+", s) for s in sent), sent
    assert len(sent) >= 20, sorted(sent)
    # Most odd input is refused where it is typed (422), not silently taken.
    assert answered.get(422, 0) > answered.get(303, 0), answered
