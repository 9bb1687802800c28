"""The fixed namespace a template may read. Nothing else is reachable: a variable is a key into
a flat dictionary of prepared strings, never an attribute of a Python object.

=====================  =========================================================
``location.<field>``   name, city, address_line1, address_line2, region,
                       postal_code, country, phone, website, time_zone
``location.custom.<k>`` the location's custom fields
``brand.name``         the brand's name
``campaign.<k>``       the campaign's variables (any key)
``slot.<name>``        a slot the location fills (declared on the template)
=====================  =========================================================

Keys (``<k>``, ``<name>``) are ASCII identifiers that do not start with ``_``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LOCATION_FIELDS: tuple[str, ...] = (
    "name",
    "city",
    "address_line1",
    "address_line2",
    "region",
    "postal_code",
    "country",
    "phone",
    "website",
    "time_zone",
)
BRAND_FIELDS: tuple[str, ...] = ("name",)
ROOTS: tuple[str, ...] = ("location", "brand", "campaign", "slot")

KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_ROOT_HINT = "use location.*, brand.*, campaign.* or slot.*"
_LOCATION_HINT = "location fields are: " + ", ".join((*sorted(LOCATION_FIELDS), "custom.<key>"))


class NamespaceError(Exception):
    """A path outside the namespace; ``index`` is the path segment at fault."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def _key(parts: Sequence[str], index: int, what: str) -> str:
    if len(parts) <= index:
        raise NamespaceError(
            f"'{'.'.join(parts)}' needs a {what}, e.g. {'.'.join(parts)}.example", len(parts) - 1
        )
    if len(parts) > index + 1:
        raise NamespaceError(
            f"'{'.'.join(parts[: index + 1])}' has no fields; '.{parts[index + 1]}' is not allowed",
            index + 1,
        )
    if not KEY.match(parts[index]):
        raise NamespaceError(
            f"'{parts[index]}' is not a valid {what}: use letters, digits and '_', "
            "starting with a letter",
            index,
        )
    return parts[index]


def resolve(parts: Sequence[str]) -> str:
    """The context key of a dotted path, or ``NamespaceError`` if the path is not allowed."""
    root = parts[0]
    if root == "location":
        if len(parts) == 1:
            raise NamespaceError(
                f"'location' needs a field, e.g. location.city; {_LOCATION_HINT}", 0
            )
        field = parts[1]
        if field == "custom":
            _key(parts, 2, "custom field name")
            return ".".join(parts)
        if field not in LOCATION_FIELDS:
            raise NamespaceError(f"unknown field 'location.{field}'; {_LOCATION_HINT}", 1)
        if len(parts) > 2:
            raise NamespaceError(
                f"'location.{field}' has no fields; '.{parts[2]}' is not allowed", 2
            )
        return ".".join(parts)
    if root == "brand":
        if len(parts) == 1:
            raise NamespaceError("'brand' needs a field: brand.name", 0)
        if parts[1] not in BRAND_FIELDS:
            raise NamespaceError(f"unknown field 'brand.{parts[1]}'; brand fields are: name", 1)
        if len(parts) > 2:
            raise NamespaceError(
                f"'brand.{parts[1]}' has no fields; '.{parts[2]}' is not allowed", 2
            )
        return ".".join(parts)
    if root == "campaign":
        _key(parts, 1, "campaign variable name")
        return ".".join(parts)
    if root == "slot":
        _key(parts, 1, "slot name")
        return ".".join(parts)
    raise NamespaceError(f"unknown variable '{root}'; {_ROOT_HINT}", 0)
