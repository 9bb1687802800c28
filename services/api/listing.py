"""The query parameters every paged list shares beyond ``limit`` and ``cursor``: ``sort``
(one of the orders the listing's ``Sorting`` offers) and ``include=total``."""

# No ``from __future__ import annotations``: FastAPI reads ``sort_param``'s annotation, which
# refers to the locals of ``sort_by``, at run time.
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Query
from fastapi.exceptions import RequestValidationError

from shared.pagination import Sorting

Include = Annotated[
    Literal["total"] | None,
    Query(
        description="`total`: the answer also carries `total`, how many items match the "
        "filters on all pages (one more count query)."
    ),
]


def wants_total(include: str | None) -> bool:
    return include == "total"


def sort_by(sorting: Sorting) -> Callable[[str], str]:
    """A dependency reading ``sort``: one of ``sorting.values`` (``-`` for descending), or a
    422 naming the ones there are."""
    allowed = ", ".join(sorting.values)

    def sort_param(
        sort: Annotated[
            str,
            Query(
                description=f"Order of the list: one of {allowed} (`-` is descending; ties "
                "in creation order). A `cursor` only continues the `sort` it came from.",
                json_schema_extra={"enum": list(sorting.values)},
                max_length=40,
            ),
        ] = sorting.default,
    ) -> str:
        if sort not in sorting.values:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "sort"),
                        "msg": f"must be one of: {allowed}",
                        "type": "enum",
                        "input": sort,
                    }
                ]
            )
        return sort

    return sort_param
