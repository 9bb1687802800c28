from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.content.platforms import PLATFORM_NAME_SCHEMA, PLATFORMS
from shared.fieldtypes import INT4_MAX
from shared.templates.schemas import BODY_KEYS, MediaIn


class LocalPostCreate(BaseModel):
    """A location's own post from a published template of its brand: the location fills the
    template's slots; everything else is the brand's locked text."""

    model_config = ConfigDict(extra="forbid")

    template_id: uuid.UUID
    version: int = Field(ge=1, le=INT4_MAX, description="A published version of the template.")
    platforms: list[str] = Field(
        min_length=1, max_length=len(PLATFORMS), json_schema_extra={"items": PLATFORM_NAME_SCHEMA}
    )
    slot_values: dict[str, str] = Field(default_factory=dict)
    media: dict[str, list[MediaIn]] | None = Field(
        default=None,
        description="The post's own media in place of the template's, by platform (`default` "
        "for every platform without its own), as in a template: a file of the media library "
        "by `media_id` (the agency's, the brand's or this location's own; ready) or by `url`. "
        "Left out: the template's media.",
        examples=[
            {"default": [{"kind": "image", "media_id": "0b6e5c2e-3c1f-4c55-9d7e-1f0a5b9a7c11"}]}
        ],
    )
    scheduled_at: datetime | None = Field(
        default=None,
        description="When to publish (an instant with its offset); now when left out.",
    )
    require_connected_accounts: bool = Field(
        default=False,
        description="Refuse (409 `account_not_connected`, nothing saved) when a platform has "
        "no connected, healthy account at the location, instead of saving the post with a "
        "warning.",
    )

    @field_validator("scheduled_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the offset or Z, e.g. 2026-12-01T09:00:00+01:00")
        return value

    @field_validator("media")
    @classmethod
    def _media_keys(cls, value: dict[str, list[MediaIn]] | None) -> dict[str, list[MediaIn]] | None:
        for key in value or {}:
            if key not in BODY_KEYS:
                raise ValueError(
                    f"unknown media key '{key}'; use 'default' or one of {', '.join(PLATFORMS)}"
                )
        return value

    @field_validator("platforms")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for item in value:
            if item not in PLATFORMS:
                raise ValueError(f"unknown platform '{item}'; use one of {', '.join(PLATFORMS)}")
        return list(dict.fromkeys(value))


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    location_id: uuid.UUID
    campaign_id: uuid.UUID | None
    template_id: uuid.UUID
    template_version: int
    platform: str
    slot_values: dict[str, Any]
    text: str
    title: str | None
    media: list[Any]
    status: str
    scheduled_at: datetime | None
    external_id: str | None
    permalink: str | None
    last_error: str | None
    status_reason: str | None
    account_id: uuid.UUID | None
    publish_deadline: datetime | None
    published_at: datetime | None
    approval_kind: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decide_by: datetime | None = Field(
        default=None,
        description="Waiting for a decision: skipped if still undecided at this instant (its "
        "campaign's approval deadline); empty: at `scheduled_at`.",
    )
    decision_comment: str | None
    created_at: datetime
    updated_at: datetime


AccountWarningCode = Literal["no_connected_account", "account_needs_reconnect"]


class AccountWarning(BaseModel):
    """A location × platform whose posts will not go out as things stand: no connected
    account there (its posts are skipped at their time), or one that needs reconnecting
    (its posts fail)."""

    code: AccountWarningCode = Field(
        description="`no_connected_account` (never connected, or disconnected) or "
        "`account_needs_reconnect` (the platform stopped accepting its login)."
    )
    location_id: uuid.UUID
    platform: str
    detail: str = Field(description="What is wrong and what to do, in a sentence.")


class CreatedPostOut(PostOut):
    warnings: list[AccountWarning] = Field(
        default_factory=list,
        description="Why this post will not go out as things stand (empty when nothing stops "
        "it): connect or reconnect the account before the post's time.",
    )


class PostMetricsOut(BaseModel):
    """A published post's lifetime numbers as its platform last gave them. Every number is
    ``null`` where the platform does not give it, and all of them (with ``collected_at``)
    until the first collection after publishing."""

    model_config = ConfigDict(from_attributes=True)

    post_id: uuid.UUID
    platform: str
    impressions: int | None = None
    reach: int | None = None
    engagements: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    clicks: int | None = None
    views: int | None = None
    collected_at: datetime | None = Field(
        default=None, description="When Chorus last read them from the platform."
    )


def _aware_instant(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give the offset or Z, e.g. 2026-12-01T09:00:00+01:00")
    return value


class StatusChangeOut(BaseModel):
    """One step of a post's life: from, to, who or what moved it, why and when."""

    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    actor_type: str = Field(description="`user`, `api_key` or `system` (a job).")
    actor_id: uuid.UUID | None
    reason: str
    changed_at: datetime


class PostDetailOut(PostOut):
    attempts: int
    history: list[StatusChangeOut] = Field(
        description="Every status change of the post, oldest first."
    )


class PostCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, description="Kept in the history.")


class PostRescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: datetime = Field(
        description="The new time (an instant with its offset).",
        examples=["2030-12-01T09:00:00+01:00"],
    )

    _aware = field_validator("scheduled_at")(_aware_instant)


class PostEditIn(BaseModel):
    """New slot values (the post is rendered again from its template version and checked
    like a new post) and/or a new time. Give at least one."""

    model_config = ConfigDict(extra="forbid")

    slot_values: dict[str, str] | None = None
    scheduled_at: datetime | None = None

    _aware = field_validator("scheduled_at")(_aware_instant)


class PostRetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: datetime | None = Field(
        default=None, description="When to try again; now when left out."
    )
    confirm_not_published: bool = Field(
        default=False,
        description="Required when Chorus could not find out whether the failed post went "
        "out: you checked the account and it is not there.",
    )

    _aware = field_validator("scheduled_at")(_aware_instant)


class CalendarPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    totals: dict[str, int] = Field(
        description="Posts matching the same filters, by status (over all pages)."
    )
    total: int
