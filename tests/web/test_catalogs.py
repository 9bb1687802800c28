"""Every string the web app shows is in the English and Greek catalogs, translated: the
messages are extracted from the code and templates as Babel does (services/web/catalogs.py)."""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog

from services.web import catalogs
from services.web.i18n import LANGUAGES, Translator


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    return catalogs.extract()


def test_extraction_finds_the_strings_of_templates_and_python(extracted: Catalog) -> None:
    ids = {m.id for m in extracted if m.id}
    assert "Sign in to Chorus" in ids  # a template
    assert "The email address or the password is wrong." in ids  # Python, N_()
    assert "Enter your email address." in ids  # Python, gettext()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_in_the_catalog_and_translated(extracted: Catalog, language: str) -> None:
    catalog = catalogs.read(language)
    missing, untranslated, fuzzy = [], [], []
    for message in extracted:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        if found is None:
            missing.append(message.id)
            continue
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if not all(strings):
            untranslated.append(message.id)
        if found.fuzzy:
            fuzzy.append(message.id)
    hint = "run `.venv/bin/python -m services.web.catalogs`, then translate"
    assert not missing, f"{language}: not in the catalog ({hint}): {missing}"
    assert not untranslated, f"{language}: untranslated: {untranslated}"
    assert not fuzzy, f"{language}: marked fuzzy (check, then remove the flag): {fuzzy}"


def test_greek_placeholders_match_the_english_ones() -> None:
    """A translation that drops or renames a %(name)s would fail at render time."""
    greek = catalogs.read("el")
    for message in greek:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = sorted(set(_placeholders(ids[0])))
        for text in strings:
            assert sorted(set(_placeholders(text))) == wanted, (message.id, text)


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%\((\w+)\)s", text)


def test_the_catalogs_load_and_greek_is_used() -> None:
    assert Translator("el").gettext("Sign in") == "Σύνδεση"
    assert Translator("en").gettext("Sign in") == "Sign in"
