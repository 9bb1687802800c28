from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.content.platforms import PLATFORMS

MAX_BULK = 500
COMMENT_MAX = 2000

Outcome = Literal["decided", "not_found", "not_pending", "not_allowed"]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(
        default=None, max_length=COMMENT_MAX, description="Shown to the location."
    )
    slot_values: dict[str, str] | None = Field(
        default=None,
        description="Fill the template's slots before approving: the post is rendered again "
        "from its template version (with its campaign's variables) and checked like a new "
        "post (422 listing every problem, nothing decided). Left out: the text stays.",
        examples=[{"offer": "2 for 1 until 8pm"}],
    )

    @field_validator("comment")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return _clean(value)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(
        min_length=1,
        max_length=COMMENT_MAX,
        description="Why, for the location: what to change before posting again.",
    )

    @field_validator("comment")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        cleaned = _clean(value)
        if cleaned is None:
            raise ValueError("say why the post is rejected: the location reads this")
        return cleaned


class BulkDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    post_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK)
    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=COMMENT_MAX)

    @field_validator("post_ids")
    @classmethod
    def _unique(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _reject_says_why(self) -> BulkDecisionIn:
        self.comment = _clean(self.comment)
        if self.decision == "reject" and self.comment is None:
            raise ValueError("a rejection needs a comment: say why, the locations read it")
        return self


class BulkResultOut(BaseModel):
    post_id: uuid.UUID
    outcome: Outcome
    status: str | None = Field(
        description="The post's status after this call (null when not found)."
    )
    detail: str


class BulkDecisionOut(BaseModel):
    decided: int
    results: list[BulkResultOut]


class ApprovalItemOut(BaseModel):
    """A post waiting for a decision, with what the decider needs to see."""

    post_id: uuid.UUID
    brand_id: uuid.UUID
    location_id: uuid.UUID
    location_name: str
    campaign_id: uuid.UUID | None
    platform: str
    text: str
    title: str | None
    media: list[Any]
    approval_kind: str | None
    scheduled_at: datetime | None
    deadline: datetime | None = Field(
        description="Decide before this instant: after it the post is skipped."
    )
    status_reason: str | None
    created_by: uuid.UUID | None
    created_at: datetime


class DecisionOut(BaseModel):
    """A post after a decision: what the location now sees."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    status_reason: str | None
    scheduled_at: datetime | None
    approval_kind: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_comment: str | None


class LinkUseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=512)
    comment: str | None = Field(
        default=None, max_length=COMMENT_MAX, description="Required for a rejection link."
    )


class LinkLocationOut(BaseModel):
    id: uuid.UUID
    name: str
    city: str


class LinkPreviewOut(BaseModel):
    """What the link would do, read without changing anything (mail scanners fetch links)."""

    post_id: uuid.UUID
    decision: Literal["approve", "reject"]
    platform: str
    text: str
    title: str | None
    location: LinkLocationOut
    scheduled_at: datetime | None
    expires_at: datetime
    post_status: str
    usable: bool
    reason: str | None = Field(description="Why the link cannot be used (null when it can).")


def known_platform(value: str | None) -> str | None:
    if value is not None and value not in PLATFORMS:
        raise ValueError(f"unknown platform '{value}'; use one of {', '.join(PLATFORMS)}")
    return value
