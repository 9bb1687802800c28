"""The one scoped-statement helper every repository query starts from.

Row-level security already hides other agencies' rows; the explicit filter keeps queries
index-friendly (``agency_id`` leads every index) and is the first line of defence.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select

from shared.access.principal import Principal

M = TypeVar("M")


def scoped(model: type[M], principal: Principal) -> Select[M]:
    column: Any = model.agency_id  # type: ignore[attr-defined]
    return select(model).where(column == principal.agency_id)
