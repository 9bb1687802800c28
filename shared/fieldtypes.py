"""Field types for input that lands in fixed-width database columns.

A number the column cannot hold must be refused as a 422 naming the field, not reach
PostgreSQL and come back as a 500."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT4_MAX = 2**31 - 1
INT4_MIN = -(2**31)

Int32 = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX)]
"""An integer a PostgreSQL ``integer`` column can hold."""
