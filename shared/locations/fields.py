"""Field rules for locations, shared by the REST API and the bulk importer so both say the
same thing about the same bad value."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from pydantic import AfterValidator, BeforeValidator

STATUSES = ("active", "paused", "archived")
DATA_COLUMNS: tuple[str, ...] = (
    "name",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "time_zone",
    "phone",
    "website",
)
"""A location's own descriptive columns, in the order files and snapshots list them."""
CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_VALUE = 1000


@lru_cache(maxsize=1)
def _time_zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def check_time_zone(value: str) -> str:
    canonical = _time_zones().get(value.lower())
    if canonical is None:
        raise ValueError(
            f"'{value}' is not an IANA time zone; use a name like 'America/New_York' "
            "or 'Europe/Berlin'"
        )
    return canonical


def check_country(value: str) -> str:
    code = value.upper()
    if code not in _countries():
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. US, DE, GB)")
    return code


def check_website(value: str) -> str:
    if not value:
        return value
    url = value if "://" in value else f"https://{value}"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or "." not in (parts.hostname or ""):
        raise ValueError(f"'{value}' is not a web address; use e.g. https://example.com/store")
    return url


def normalize_phone(value: str, country: str) -> str:
    """E.164 (+12125550100) so later pipelines compare and render one form."""
    if not value:
        return value
    try:
        number = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(
            f"'{value}' is not a valid phone number for {country}; "
            "use the international form, e.g. +1 212 555 0100"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_custom_fields(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_CUSTOM_FIELDS:
        raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields ({len(value)})")
    for key, item in value.items():
        if not CUSTOM_KEY.match(key):
            raise ValueError(
                f"custom field name '{key}' must be lowercase letters, digits and underscores, "
                "starting with a letter (at most 64 characters)"
            )
        if item is not None and not isinstance(item, str | int | float | bool):
            raise ValueError(f"custom field '{key}' must be text, a number or true/false")
        if isinstance(item, str) and len(item) > MAX_CUSTOM_VALUE:
            raise ValueError(f"custom field '{key}' is longer than {MAX_CUSTOM_VALUE} characters")
    return value


Stripped = BeforeValidator(_strip)
TimeZone = Annotated[str, Stripped, AfterValidator(check_time_zone)]
Country = Annotated[str, Stripped, AfterValidator(check_country)]
Website = Annotated[str, Stripped, AfterValidator(check_website)]
CustomFields = Annotated[dict[str, Any], AfterValidator(check_custom_fields)]
