"""Campaign payloads: audience, schedule, channels, variables and approval policy in; the
campaign with its fan-out progress and post counts out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.campaigns.models import APPROVAL_POLICIES, CAMPAIGN_STATUSES
from shared.content.platforms import PLATFORM_NAME_SCHEMA, PLATFORMS
from shared.fieldtypes import INT4_MAX, Name
from shared.posts.schemas import AccountWarning

ApprovalPolicy = Literal["none", "location_confirm", "brand_approval"]
assert set(APPROVAL_POLICIES) == {"none", "location_confirm", "brand_approval"}
CampaignStatus = Literal["draft", "launching", "running", "paused", "completed", "cancelled"]
assert set(CAMPAIGN_STATUSES) == set(CampaignStatus.__args__)  # type: ignore[attr-defined]

MAX_AUDIENCE_IDS = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AllAudience(_Strict):
    """Every active location of the brand (at fan-out time)."""

    kind: Literal["all"]


class GroupsAudience(_Strict):
    """The brand's active locations in any of these groups."""

    kind: Literal["groups"]
    group_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class LocationsAudience(_Strict):
    """These locations of the brand (those still active at fan-out time)."""

    kind: Literal["locations"]
    location_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_AUDIENCE_IDS)


class AudienceFilter(_Strict):
    country: str | None = Field(default=None, min_length=2, max_length=2, examples=["US"])
    region: str | None = Field(default=None, min_length=1, max_length=100)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="Part of the location's name."
    )
    group_id: uuid.UUID | None = None


class FilterAudience(_Strict):
    """The brand's active locations matching every condition given."""

    kind: Literal["filter"]
    filter: AudienceFilter


Audience = Annotated[
    AllAudience | GroupsAudience | LocationsAudience | FilterAudience,
    Field(discriminator="kind"),
]


class AbsoluteSchedule(_Strict):
    """One instant for every location."""

    kind: Literal["absolute"]
    at: AwareDatetime = Field(description="An instant with its offset, e.g. 2026-12-01T09:00Z.")


class LocalSchedule(_Strict):
    """A wall-clock time in each location's own time zone. A time skipped by a DST change
    moves to the first valid instant after it; a repeated time takes its first occurrence."""

    kind: Literal["local"]
    date: dt.date
    time: dt.time = Field(description="HH:MM on the location's clock.", examples=["09:00"])

    @field_validator("time")
    @classmethod
    def _naive(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError("give the wall-clock time without an offset, e.g. 09:00")
        return value.replace(microsecond=0)


Schedule = Annotated[AbsoluteSchedule | LocalSchedule, Field(discriminator="kind")]
SCHEDULE_EXAMPLE = {"kind": "local", "date": "2030-01-07", "time": "09:00"}


def schedule_json(schedule: AbsoluteSchedule | LocalSchedule) -> dict[str, Any]:
    if isinstance(schedule, AbsoluteSchedule):
        return {"kind": "absolute", "at": schedule.at.isoformat()}
    return {
        "kind": "local",
        "date": schedule.date.isoformat(),
        "time": schedule.time.isoformat(timespec="seconds" if schedule.time.second else "minutes"),
    }


def _channels(value: list[str]) -> list[str]:
    for item in value:
        if item not in PLATFORMS:
            raise ValueError(f"unknown platform '{item}'; use one of {', '.join(PLATFORMS)}")
    return list(dict.fromkeys(value))


Variables = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=64)], Annotated[str, Field(max_length=2000)]
    ],
    Field(max_length=50),
]


MAX_DEADLINE_HOURS = 336
"""Two weeks: a decision due longer before a post's time is a planning problem, not a deadline."""


class CampaignCreate(_Strict):
    name: Name = Field(examples=["Pizza week"])
    brand_id: uuid.UUID
    template_id: uuid.UUID
    version: int = Field(ge=1, le=INT4_MAX, description="A published version of the template.")
    audience: Audience = Field(examples=[{"kind": "all"}])
    channels: list[str] = Field(
        min_length=1,
        max_length=len(PLATFORMS),
        examples=[["facebook", "instagram"]],
        json_schema_extra={"items": PLATFORM_NAME_SCHEMA},
    )
    schedule: Schedule = Field(examples=[SCHEDULE_EXAMPLE])
    variables: Variables = Field(
        default_factory=dict, description="Values of the template's `campaign.*` variables."
    )
    approval_policy: ApprovalPolicy = "none"
    approval_deadline_hours: int = Field(
        default=0,
        ge=0,
        le=MAX_DEADLINE_HOURS,
        description="How many hours before each post's time its decision is due (0: at the "
        "post's time). A post still waiting then is skipped. Only with an approval policy.",
        examples=[24],
    )

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        return _channels(value)


class CampaignUpdate(_Strict):
    """Any field of a draft campaign; the campaign is checked again as a whole."""

    name: Name | None = Field(default=None)
    template_id: uuid.UUID | None = None
    version: int | None = Field(default=None, ge=1, le=INT4_MAX)
    audience: Audience | None = None
    channels: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=len(PLATFORMS),
        json_schema_extra={"items": PLATFORM_NAME_SCHEMA},
    )
    schedule: Schedule | None = None
    variables: Variables | None = None
    approval_policy: ApprovalPolicy | None = None
    approval_deadline_hours: int | None = Field(default=None, ge=0, le=MAX_DEADLINE_HOURS)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _channels(value)


class RescheduleIn(_Strict):
    schedule: Schedule = Field(examples=[SCHEDULE_EXAMPLE])


class Progress(BaseModel):
    done: int = Field(description="Audience locations fanned out so far.")
    total: int = Field(description="Audience locations to fan out (known once it started).")


class CampaignOut(BaseModel):
    id: uuid.UUID
    brand_id: uuid.UUID
    name: str
    template_id: uuid.UUID
    version: int
    audience: dict[str, Any]
    channels: list[str]
    schedule: dict[str, Any]
    variables: dict[str, Any]
    approval_policy: str
    approval_deadline_hours: int
    status: str
    status_reason: str | None
    progress: Progress
    launched_at: dt.datetime | None
    completed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class CampaignDetail(CampaignOut):
    posts_by_status: dict[str, int] = Field(description="Posts of the campaign by status.")
    skipped_by_reason: dict[str, int] = Field(
        description="Skipped posts by reason ('no connected account', 'validation failed', …)."
    )


class LaunchIn(_Strict):
    require_connected_accounts: bool = Field(
        default=False,
        description="Refuse the launch (409 `account_not_connected`, the campaign stays a "
        "draft) when a location of the audience has no connected, healthy account on one of "
        "the channels, instead of launching with warnings.",
    )


MAX_LAUNCH_WARNINGS = 100


class LaunchOut(CampaignOut):
    warning_count: int = Field(
        description="Audience locations × channels without a connected, healthy account: "
        "their posts will be skipped. Counted while the fan-out is still to come (draft, "
        "launching); 0 afterwards (see `skipped_by_reason` of the campaign)."
    )
    warnings: list[AccountWarning] = Field(
        description=f"The first {MAX_LAUNCH_WARNINGS} of them, by location name then channel."
    )


class ActionOut(BaseModel):
    """What a campaign action did."""

    campaign: CampaignOut
    changed: int = Field(description="Posts this action changed.")
    left_to_finish: int = Field(
        default=0, description="Posts already handed to a platform, left to finish."
    )
    detail: str


class RemindOut(BaseModel):
    """What a reminder did."""

    mails: int = Field(description="Mails queued: one digest per person who decides.")
    posts: int = Field(description="The campaign's posts still waiting, listed in them.")
    next_reminder_at: dt.datetime = Field(description="When the next reminder is allowed.")
