"""When two names are the same name: the one rule for brand and template names.

``name_key`` is computed here, in Python, and stored next to the name in a ``name_key``
column under a plain unique index, so the application and the database decide with the
same function on every server: PostgreSQL's ``lower()`` follows the database's collation
and ctype (with the C locale it leaves ``É`` and ``İ`` alone), and no ``IMMUTABLE``
expression over it would agree across locales.

The rule: surrounding white space dropped, Unicode compatibility normalisation (NFKC), full
case folding, NFKC again (``casefold`` may produce sequences NFKC recomposes). So

- ``Café`` = ``CAFÉ`` = ``café`` written with a combining accent (``e`` + U+0301);
- ``Öl`` = ``öl``; ``Ｃａｆé`` (full-width) = ``Café``;
- ``Straße`` = ``STRASSE`` = ``strasse`` (full folding turns ``ß`` into ``ss``);
- ``İstanbul`` = ``i̇stanbul`` (``i`` + U+0307 combining dot), but not ``istanbul``: the
  default, language-neutral folding keeps the dot of the Turkish capital ``İ``, and does not
  fold the dotless ``ı`` to ``i``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy.exc import IntegrityError

UNIQUE_VIOLATION = "23505"


def name_key(name: str) -> str:
    """The key two names share exactly when they are the same name (see the module)."""
    folded = unicodedata.normalize("NFKC", name.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def name_key_default(context: Any) -> str:
    """Column default: the key of the row's ``name`` for inserts that do not give one (Core
    ``insert()`` statements bypass the models' validators)."""
    return name_key(context.get_current_parameters()["name"])


def violates(exc: IntegrityError, constraint: str) -> bool:
    """Whether ``exc`` is the unique index ``constraint`` refusing a row: the database's word
    on a duplicate name, which also settles two requests creating the same name at once."""
    cause: BaseException | None = exc.orig
    while cause is not None:  # the driver's own error, under SQLAlchemy's adapter
        if getattr(cause, "constraint_name", None) == constraint:
            return getattr(cause, "sqlstate", None) == UNIQUE_VIOLATION
        cause = cause.__cause__
    return False
