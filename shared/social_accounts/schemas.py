from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SocialAccountOut(BaseModel):
    """A location's account on one platform. Tokens never leave Chorus."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    brand_id: uuid.UUID
    location_id: uuid.UUID
    platform: str
    external_id: str
    name: str
    username: str | None
    kind: str
    status: Literal["connected", "needs_reconnect", "revoked"]
    scopes: list[str]
    token_expires_at: datetime | None
    last_refreshed_at: datetime | None
    last_error: str | None = Field(
        description="Why the account needs attention (a failed refresh, a revoked login)."
    )
    connected_by: uuid.UUID | None
    connected_at: datetime
    disconnected_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConnectStartOut(BaseModel):
    authorize_url: str = Field(
        description="Send the person who manages the account here; the platform sends them "
        "back to Chorus's callback."
    )
    expires_at: datetime = Field(description="Finish connecting before this.")
    test_mode: bool = Field(
        description="True when Chorus talks to its platform sandbox, not the real platform."
    )


class AccountChoiceOut(BaseModel):
    external_id: str
    name: str
    username: str | None
    kind: str


class ConnectResultOut(BaseModel):
    """``connected``: done. ``choose``: the login manages several accounts (pages, business
    locations); pick this location's with ``POST …/social-accounts/{platform}/choose``."""

    status: Literal["connected", "choose"]
    account: SocialAccountOut | None = None
    selection_id: str | None = None
    location_id: uuid.UUID | None = None
    platform: str | None = None
    choices: list[AccountChoiceOut] = Field(default_factory=list)
    expires_at: datetime | None = None


class ChooseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selection_id: str = Field(min_length=1, max_length=100)
    external_id: str = Field(min_length=1, max_length=300)


class DisconnectOut(BaseModel):
    account: SocialAccountOut
    revoked_at_platform: bool = Field(
        description="False where the platform offers no revocation or did not answer; the "
        "tokens are forgotten either way."
    )


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: str
    brand_id: uuid.UUID | None
    location_id: uuid.UUID | None
    subject_type: str
    subject_id: uuid.UUID | None
    payload: dict[str, Any]
    created_at: datetime


class PlatformOut(BaseModel):
    platform: str
    display_name: str
    configured: bool
    test_mode: bool
    supports_reviews: bool
    supports_delete: bool
    publish_per_day: int | None
