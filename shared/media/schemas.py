"""What the media library's API takes and answers (issue #17)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.media.sniff import ACCEPTED_DESCRIPTION

MediaStatus = Literal["processing", "ready", "failed"]
MediaKindName = Literal["image", "video", "gif"]


class FocalPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: float = Field(ge=0, le=1, description="From the left edge (0) to the right edge (1).")
    y: float = Field(ge=0, le=1, description="From the top edge (0) to the bottom edge (1).")


class MediaFactsOut(BaseModel):
    """What processing read from the file as served (upright, without metadata)."""

    type: str = Field(description=f"One of: {ACCEPTED_DESCRIPTION}.")
    width: int
    height: int
    size_bytes: int
    has_alpha: bool
    frame_count: int
    duration_seconds: float | None
    frame_rate: float | None
    video_codec: str | None
    audio_codec: str | None
    bitrate: int | None
    rotation: int


class MediaLinks(BaseModel):
    file: str | None = Field(
        description="A signed link to the file as served (no metadata), working for minutes."
    )
    poster: str | None = Field(description="A video's poster frame (signed link).")
    expires_at: datetime | None


class MediaOut(BaseModel):
    id: uuid.UUID
    brand_id: uuid.UUID | None = Field(description="Empty: the agency's library.")
    location_id: uuid.UUID | None = Field(description="Set: this location's own media.")
    name: str
    folder: str
    tags: list[str]
    status: MediaStatus = Field(
        description="`processing` (checked and prepared by the worker; see `progress`), "
        "`ready`, or `failed` (`failure` says why)."
    )
    progress: int = Field(ge=0, le=100)
    failure: str | None
    failure_code: str | None
    kind: MediaKindName | None
    type: str | None
    size_bytes: int = Field(description="The uploaded file's size.")
    sha256: str | None
    facts: MediaFactsOut | None
    focal_point: FocalPoint
    rights_expire_at: datetime | None
    rights_expired: bool
    uploaded_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    purge_after: datetime | None
    links: MediaLinks


class MediaUpdate(BaseModel):
    """Any of these; `null` clears the rights expiry."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    folder: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=20)
    focal_point: FocalPoint | None = None
    rights_expire_at: datetime | None = None


class MediaUse(BaseModel):
    kind: Literal["post", "template_version"]
    id: uuid.UUID
    status: str | None = None
    location_id: uuid.UUID | None = None
    platform: str | None = None
    scheduled_at: datetime | None = None
    template_id: uuid.UUID | None = None
    version: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class MediaUsageOut(BaseModel):
    media_id: uuid.UUID
    posts_not_ended: int = Field(description="Posts not yet published, failed or cancelled.")
    uses: list[MediaUse]


class FolderOut(BaseModel):
    folder: str
    count: int


class StorageOut(BaseModel):
    used_bytes: int = Field(description="Each distinct file counted once, uploads included.")
    limit_bytes: int | None = Field(description="The plan's; null: no limit.")
    plan: str
