"""The demo agency ``make run`` seeds: one brand, 25 locations across time zones, groups."""

from __future__ import annotations

from dataclasses import dataclass

DEMO_EMAIL = "owner@demo.chorus.example"
DEMO_AGENCY = "Demo Agency"
DEMO_BRAND = "Slice & Co Pizza"


@dataclass(frozen=True)
class DemoLocation:
    ref: str
    city: str
    region: str
    country: str
    time_zone: str
    phone: str
    groups: tuple[str, ...]


def _us(ref: str, city: str, region: str, tz: str, phone: str, group: str) -> DemoLocation:
    return DemoLocation(ref, city, region, "US", tz, phone, ("North America", group))


def _intl(ref: str, city: str, region: str, country: str, tz: str, phone: str) -> DemoLocation:
    group = {"America": "North America", "Europe": "Europe"}.get(tz.split("/")[0], "Asia-Pacific")
    return DemoLocation(ref, city, region, country, tz, phone, (group,))


DEMO_LOCATIONS: tuple[DemoLocation, ...] = (
    _us("nyc-001", "New York", "NY", "America/New_York", "+1 212 555 0101", "Acme Holdings"),
    _us("nyc-002", "Brooklyn", "NY", "America/New_York", "+1 718 555 0102", "Acme Holdings"),
    _us("bos-001", "Boston", "MA", "America/New_York", "+1 617 555 0103", "Acme Holdings"),
    _us("mia-001", "Miami", "FL", "America/New_York", "+1 305 555 0104", "Sunshine Foods"),
    _us("atl-001", "Atlanta", "GA", "America/New_York", "+1 404 555 0105", "Sunshine Foods"),
    _us("chi-001", "Chicago", "IL", "America/Chicago", "+1 312 555 0106", "Lakeside Group"),
    _us("chi-002", "Evanston", "IL", "America/Chicago", "+1 847 555 0107", "Lakeside Group"),
    _us("dal-001", "Dallas", "TX", "America/Chicago", "+1 214 555 0108", "Lakeside Group"),
    _us("den-001", "Denver", "CO", "America/Denver", "+1 303 555 0109", "Mountain Slice LLC"),
    _us("phx-001", "Phoenix", "AZ", "America/Phoenix", "+1 602 555 0110", "Mountain Slice LLC"),
    _us("lax-001", "Los Angeles", "CA", "America/Los_Angeles", "+1 213 555 0111", "Pacific Pies"),
    _us("sfo-001", "San Francisco", "CA", "America/Los_Angeles", "+1 415 555 0112", "Pacific Pies"),
    _us("sea-001", "Seattle", "WA", "America/Los_Angeles", "+1 206 555 0113", "Pacific Pies"),
    _us("hnl-001", "Honolulu", "HI", "Pacific/Honolulu", "+1 808 555 0114", "Pacific Pies"),
    _intl("yyz-001", "Toronto", "ON", "CA", "America/Toronto", "+1 416 555 0115"),
    DemoLocation(
        "lon-001", "London", "England", "GB", "Europe/London", "+44 20 7946 0116", ("Europe",)
    ),
    DemoLocation(
        "lon-002", "Manchester", "England", "GB", "Europe/London", "+44 161 496 0117", ("Europe",)
    ),
    _intl("ber-001", "Berlin", "BE", "DE", "Europe/Berlin", "+49 30 901820"),
    _intl("par-001", "Paris", "IDF", "FR", "Europe/Paris", "+33 1 42 68 53 00"),
    _intl("mad-001", "Madrid", "MD", "ES", "Europe/Madrid", "+34 912 34 56 78"),
    DemoLocation(
        "syd-001", "Sydney", "NSW", "AU", "Australia/Sydney", "+61 2 9374 4000", ("Asia-Pacific",)
    ),
    DemoLocation(
        "mel-001",
        "Melbourne",
        "VIC",
        "AU",
        "Australia/Melbourne",
        "+61 3 9654 0000",
        ("Asia-Pacific",),
    ),
    DemoLocation(
        "tyo-001", "Tokyo", "Tokyo", "JP", "Asia/Tokyo", "+81 3-3201-0000", ("Asia-Pacific",)
    ),
    DemoLocation(
        "sin-001", "Singapore", "", "SG", "Asia/Singapore", "+65 6123 4567", ("Asia-Pacific",)
    ),
    DemoLocation(
        "akl-001", "Auckland", "AUK", "NZ", "Pacific/Auckland", "+64 9 379 0000", ("Asia-Pacific",)
    ),
)


@dataclass(frozen=True)
class DemoMember:
    email: str
    full_name: str
    role: str
    location_ref: str | None = None
    """For location roles: the external_ref of the location; brand roles use the demo brand."""


DEMO_MEMBERS: tuple[DemoMember, ...] = (
    DemoMember("brand.manager@demo.chorus.example", "Bea Brandmanager", "brand_manager"),
    DemoMember("nyc.manager@demo.chorus.example", "Nico Newyork", "location_manager", "nyc-001"),
    DemoMember("london.manager@demo.chorus.example", "Lena London", "location_manager", "lon-001"),
)
