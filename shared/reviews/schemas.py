from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from shared.fieldtypes import Name
from shared.reviews.models import LEGACY_SOURCES

Source = Literal["google_business", "facebook", "yelp"]
"""Named as social accounts name their platform (``google_business`` is the Google Business
Profile)."""


def _renamed(value: Any) -> Any:
    return LEGACY_SOURCES.get(value, value) if isinstance(value, str) else value


SourceIn = Annotated[Source, BeforeValidator(_renamed)]
"""A source as input: ``google``, its name before it followed the accounts', still accepted."""
Sentiment = Literal["positive", "neutral", "negative"]
ReplyStatus = Literal[
    "none", "pending_approval", "queued", "sending", "unconfirmed", "sent", "failed"
]


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    location_id: uuid.UUID
    source: Source = Field(
        description="Where the review was written, named as social accounts name their "
        "platform (`google_business`; reviews said `google` before)."
    )
    external_id: str
    rating: int | None
    recommends: bool | None
    text: str
    author: str
    created_at: datetime = Field(description="When the reviewer wrote it.")
    updated_at: datetime = Field(description="When the reviewer last changed it.")
    collected_at: datetime
    sentiment_score: float = Field(description="VADER compound score, -1 .. 1.")
    sentiment_label: Sentiment
    needs_attention: bool = Field(
        validation_alias=AliasChoices("open_attention", "needs_attention"),
        description="Negative by the brand's rules and not answered: false once a reply is "
        "sent or on its way (`queued`, `sending`, `unconfirmed`), true again if it is deleted "
        "or fails.",
    )
    attention_reason: str | None = Field(
        description="Why the review is negative by the brand's rules (kept once answered)."
    )
    reply_text: str | None
    reply_status: ReplyStatus
    reply_action: Literal["post", "edit", "delete"] = Field(
        description="What the reply on its way does at the platform: `post` it, `edit` the "
        "reply there, or `delete` it. Meaningful while `reply_status` is `queued`, `sending` "
        "or `unconfirmed`."
    )
    reply_origin: Literal["platform", "manual", "auto"] | None
    reply_attempts: int
    reply_error: str | None
    replied_at: datetime | None


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(
        default=None, min_length=1, max_length=4000, description="Send this instead of the draft."
    )


class ReviewSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    negative_rating: int = Field(
        ge=0, le=5, description="Reviews rated at or below this need attention (0: never)."
    )
    negative_sentiment: bool = Field(
        default=True, description="Whether negative sentiment alone makes a review need attention."
    )


class ReviewSettingsOut(BaseModel):
    brand_id: uuid.UUID
    negative_rating: int
    negative_sentiment: bool


class AutoReplyRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field()
    sources: list[SourceIn] = Field(default_factory=list, description="Empty: every source.")
    min_rating: int = Field(default=1, ge=1, le=5)
    max_rating: int = Field(default=5, ge=1, le=5)
    group_id: uuid.UUID | None = None
    template: str = Field(
        min_length=1,
        max_length=4000,
        description="Chorus's template language with reviewer.first_name, reviewer.name, "
        "review.rating, review.source, location.* and brand.name.",
    )
    requires_approval: bool = False
    enabled: bool = True
    position: int = Field(default=0, ge=0, le=10_000)


class AutoReplyRulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None)
    sources: list[SourceIn] | None = None
    min_rating: int | None = Field(default=None, ge=1, le=5)
    max_rating: int | None = Field(default=None, ge=1, le=5)
    group_id: uuid.UUID | None = None
    template: str | None = Field(default=None, min_length=1, max_length=4000)
    requires_approval: bool | None = None
    enabled: bool | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class AutoReplyRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    name: str
    sources: list[str]
    min_rating: int
    max_rating: int
    group_id: uuid.UUID | None
    template: str
    requires_approval: bool
    enabled: bool
    position: int
    created_at: datetime
    updated_at: datetime


class YelpAttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_id: str = Field(
        min_length=3,
        max_length=120,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The business's Yelp id or alias (the part after /biz/ in its Yelp URL).",
    )


class ReviewSourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    location_id: uuid.UUID
    source: Source
    external_id: str
    name: str | None
    status: Literal["active", "needs_reconnect", "disabled"]
    last_collected_at: datetime | None
    next_collect_at: datetime
    last_error: str | None
