"""Which library a media page shows (issue #17): ``/media`` for a location's people (what the
current location may use: its own media and its brand's shared ones), ``/brand/media`` for
head office (the current brand's shared library and, for agency-wide roles, the agency's).

A ``Scope`` says where the page's links point, which libraries it may show and where an
upload from it goes; it also decides whether a media belongs to the page at all (another
location's or brand's media is the 404 page even when the policy would let the person read
it elsewhere, as every web page does for objects of another location or brand)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.web.deps import Viewer
from services.web.i18n import N_
from shared.access.policy import Target, allowed
from shared.errors import NotFound
from shared.media import service as media_service
from shared.media.models import Media

LIBRARY_NAMES = {
    "all": N_("Everything this location can use"),
    "own": N_("This location's own"),
    "brand": N_("The brand's shared library"),
    "agency": N_("The agency's library"),
}


@dataclass(frozen=True, slots=True)
class Scope:
    base: str
    """``/media`` or ``/brand/media``: every link of the pages starts here."""
    brand_id: uuid.UUID
    location_id: uuid.UUID | None
    libraries: tuple[str, ...]
    """What the library filter offers, the default first."""
    agency_wide: bool

    @property
    def is_location(self) -> bool:
        return self.location_id is not None

    def library(self, value: str) -> str:
        return value if value in self.libraries else self.libraries[0]

    def media_filter(self, library: str) -> media_service.MediaFilter:
        """The service's filter for one library of this page."""
        if self.location_id is not None:
            if library == "own":
                return media_service.MediaFilter(location_id=self.location_id)
            if library == "brand":
                return media_service.MediaFilter(brand_id=self.brand_id)
            return media_service.MediaFilter(usable_at_location=self.location_id)
        if library == "agency":
            return media_service.MediaFilter(agency_only=True)
        return media_service.MediaFilter(brand_id=self.brand_id)

    def upload_owner(self, library: str) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        """(brand id, location id) of what an upload from this library makes: a location's
        people add to their location's own library; head office to the brand's, or to the
        agency's from the agency library."""
        if self.location_id is not None:
            return self.brand_id, self.location_id
        if library == "agency":
            return None, None
        return self.brand_id, None

    def owns(self, media: Media) -> bool:
        """Is ``media`` one this page shows (its own location's, its brand's shared, and for
        head office its brand's locations' too, or the agency's for agency-wide people)?"""
        if self.location_id is not None:
            return media.location_id == self.location_id or (
                media.location_id is None and media.brand_id == self.brand_id
            )
        if media.brand_id is None:
            return self.agency_wide
        return media.brand_id == self.brand_id

    def link(self, media_id: uuid.UUID) -> str:
        return f"{self.base}/{media_id}"


def scope_of(viewer: Viewer, *, brand_page: bool) -> Scope:
    """The page's scope; the 404 page for a person without a location (``/media``) or a
    brand (``/brand/media``) to look at."""
    principal = viewer.principal
    if brand_page:
        if viewer.brand is None:
            raise NotFound("brand not found")
        agency_wide = allowed(principal, "media.read", Target())
        libraries = ("brand", "agency") if agency_wide else ("brand",)
        return Scope("/brand/media", viewer.brand.id, None, libraries, agency_wide)
    if viewer.location is None:
        raise NotFound("location not found")
    location = viewer.location
    return Scope("/media", location.brand_id, location.id, ("all", "own", "brand"), False)


def may(
    viewer: Viewer, action: str, brand_id: uuid.UUID | None, location_id: uuid.UUID | None
) -> bool:
    return allowed(viewer.principal, action, media_service.target_of(brand_id, location_id))
