"""Keeps the gettext catalogs in step with the code: extract every message of the web app
(Python under services/web, templates) and merge it into each language's ``.po``.

``python -m services.web.catalogs`` updates the catalogs (English filled with the source
text, other languages left empty for a translator); tests/web/test_catalogs.py fails while a
message is missing or untranslated."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from services.web.i18n import DOMAIN, LANGUAGES, po_path

WEB_DIR = Path(__file__).parent
METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}


def extract() -> Catalog:
    """Every message the web app shows, with where it comes from."""
    catalog = Catalog(domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        WEB_DIR, METHODS, OPTIONS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def update() -> None:
    for language in LANGUAGES:
        path = po_path(language)
        catalog = (
            read(language)
            if path.exists()
            else Catalog(locale=language, domain=DOMAIN, project="Chorus", fuzzy=False)
        )
        catalog.update(extract(), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == "en":  # the source language: its text is the message itself
            for message in catalog:
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if message.id and not all(strings):
                    message.string = message.id
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=100, omit_header=False, sort_output=True)


if __name__ == "__main__":
    update()
    sys.stderr.write("catalogs updated: " + ", ".join(str(po_path(x)) for x in LANGUAGES) + "\n")
