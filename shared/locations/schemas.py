from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shared.fieldtypes import Name
from shared.locations.fields import Country, CustomFields, TimeZone, Website, normalize_phone

Status = Literal["active", "paused", "archived"]


def _text(max_length: int, **kwargs: Any) -> Any:
    return Field(default="", max_length=max_length, **kwargs)


class LocationFields(BaseModel):
    """Everything a location is, without its brand: one import row or one create body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Your own id for the location (store number). Re-importing a row with the "
        "same external_ref updates the location instead of creating another.",
        examples=["store-0042"],
    )
    name: Name = Field(examples=["Slice & Co — Brooklyn Heights"])
    address_line1: str = _text(200, examples=["120 Montague St"])
    address_line2: str = _text(200)
    city: str = _text(100, examples=["Brooklyn"])
    region: str = _text(100, examples=["NY"])
    postal_code: str = _text(20, examples=["11201"])
    country: Country = Field(examples=["US"])
    time_zone: TimeZone = Field(examples=["America/New_York"])
    phone: str = _text(40, examples=["+1 718 555 0142"])
    website: Website = Field(default="", max_length=500)
    custom_fields: CustomFields = Field(default_factory=dict)
    status: Status = "active"

    @model_validator(mode="after")
    def _phone_in_country(self) -> LocationFields:
        self.phone = normalize_phone(self.phone, self.country)
        return self


class LocationCreate(LocationFields):
    brand_id: uuid.UUID
    group_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=100, description="Location groups to add it to."
    )


class LocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_ref: str | None = Field(default=None, min_length=1, max_length=100)
    name: Name | None = Field(default=None)
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: Country | None = None
    time_zone: TimeZone | None = None
    phone: str | None = Field(default=None, max_length=40)
    website: Website | None = Field(default=None, max_length=500)
    custom_fields: CustomFields | None = None
    status: Status | None = None


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    external_ref: str | None
    name: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    time_zone: str
    phone: str
    website: str
    custom_fields: dict[str, Any]
    status: Status
    created_at: datetime
    updated_at: datetime


def _group_name(value: str | None) -> str | None:
    """A group name may not hold ``;``: the CSV import and export separate names with it."""
    if value is not None and ";" in value:
        raise ValueError(
            "a group name cannot contain ';' (CSV files separate group names with it); use "
            "another character, e.g. '/' or '-'"
        )
    return value


GroupName = Annotated[str, AfterValidator(_group_name)]


class LocationGroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    brand_id: uuid.UUID
    name: GroupName = Field(min_length=1, max_length=200, examples=["North"])
    description: str = Field(default="", max_length=2000)


class LocationGroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: GroupName | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class LocationGroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class GroupMembersChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


class GroupMembersResult(BaseModel):
    group_id: uuid.UUID
    changed: int = Field(description="How many memberships were added or removed.")
    member_count: int


NeedKind = Literal["connect_account", "reconnect_account", "confirm_posts", "answer_reviews"]


class NeedAction(BaseModel):
    """What to do about a need: a sentence, and the API call that starts it."""

    label: str
    method: Literal["GET", "POST"]
    path: str


class NeedOut(BaseModel):
    kind: NeedKind = Field(
        description="`connect_account`: upcoming posts on a platform the location has no "
        "connected account on (they will be skipped); `reconnect_account`: an account the "
        "platform stopped accepting (its posts will fail); `confirm_posts`: campaign posts "
        "waiting for the location's confirmation; `answer_reviews`: negative reviews not "
        "answered yet."
    )
    platform: str | None = Field(description="The platform, for account needs.")
    count: int = Field(
        description="Upcoming posts concerned (account needs, confirmations) or reviews."
    )
    detail: str = Field(description="What needs doing and why, in a sentence.")
    action: NeedAction


class LocationNeedsOut(BaseModel):
    location_id: uuid.UUID
    items: list[NeedOut] = Field(
        description="What needs the location's people, most urgent kinds first; empty when "
        "nothing does."
    )
