"""The media library's tables (issue #17).

- ``media``: a library entry (what people see: a name, a folder, tags, a focal point, a usage
  rights expiry) owned by the agency, a brand (shared with its locations) or one location.
  Uploaded, it waits at ``upload_key`` (status ``processing``) for the worker, which hashes,
  checks and processes the bytes and points it at their blob (``ready``) or says why not
  (``failed``). Deleting one marks it and purges it after a grace period.
- ``media_blob``: one processed file per agency and content (SHA-256 of the uploaded bytes):
  the original kept private, the clean copy that is served, a video's poster, the facts. The
  same bytes uploaded twice are one blob.
- ``media_derivative``: a platform's copy of a blob (resized, cropped to the focal point,
  converted), made on demand and kept.
- ``media_upload``: a resumable (tus) upload in progress.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, TenantMixin, TimestampMixin

MEDIA_STATUSES = ("processing", "ready", "failed")
UPLOAD_STATUSES = ("open", "complete", "aborted")
MEDIA_KINDS = ("image", "video", "gif")


class MediaBlob(TimestampMixin, Base):
    __tablename__ = "media_blob"

    agency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    original_key: Mapped[str] = mapped_column(Text)
    """The bytes as uploaded, kept private (never served: they may carry GPS)."""
    clean_key: Mapped[str] = mapped_column(Text)
    """What is served: an image upright with no metadata, a video remuxed without it."""
    poster_key: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    """The uploaded file's size (what counts against the plan's storage)."""
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The served copy's facts (``shared.media.facts.MediaFacts.to_json``)."""


class Media(TenantMixin, TimestampMixin, Base):
    __tablename__ = "media"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "sha256"],
            ["media_blob.agency_id", "media_blob.sha256"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["agency_id", "brand_id"], ["brand.agency_id", "brand.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["agency_id", "location_id"], ["location.agency_id", "location.id"], ondelete="CASCADE"
        ),
        CheckConstraint("location_id IS NULL OR brand_id IS NOT NULL", name="location_in_brand"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in MEDIA_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("status <> 'ready' OR sha256 IS NOT NULL", name="ready_has_blob"),
        CheckConstraint("focal_x BETWEEN 0 AND 1 AND focal_y BETWEEN 0 AND 1", name="focal_range"),
        # The library: newest first, per owner.
        Index(None, "agency_id", "brand_id", "created_at", "id"),
        Index(None, "agency_id", "sha256"),
        Index("ix_media_purge", "purge_after", postgresql_where="purge_after IS NOT NULL"),
        # The processing sweep: what waits, oldest first.
        Index("ix_media_processing", "created_at", postgresql_where="status = 'processing'"),
    )

    brand_id: Mapped[uuid.UUID | None]
    location_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(20), default="processing")
    progress: Mapped[int] = mapped_column(default=0, server_default="0")
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_detail: Mapped[str | None] = mapped_column(Text)
    upload_key: Mapped[str | None] = mapped_column(Text)
    """Where the uploaded bytes wait for processing (removed once processed)."""
    upload_size: Mapped[int] = mapped_column(BigInteger)
    upload_type: Mapped[str] = mapped_column(String(10))
    """The type its first bytes say (``shared.media.sniff``), checked again in processing."""
    sha256: Mapped[str | None] = mapped_column(String(64))
    """Its blob, once processed."""
    name: Mapped[str] = mapped_column(String(200))
    folder: Mapped[str] = mapped_column(String(200), default="", server_default="")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list, server_default="{}")
    focal_x: Mapped[float] = mapped_column(Float, default=0.5, server_default="0.5")
    focal_y: Mapped[float] = mapped_column(Float, default=0.5, server_default="0.5")
    rights_expire_at: Mapped[datetime | None]
    """Usage rights end here: a post using it after this is not published."""
    uploaded_by: Mapped[uuid.UUID | None]
    deleted_at: Mapped[datetime | None]
    purge_after: Mapped[datetime | None]
    """Deleted: removed for good (and its blob, if nothing else names it) after this."""


class MediaDerivative(Base):
    __tablename__ = "media_derivative"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "sha256"],
            ["media_blob.agency_id", "media_blob.sha256"],
            ondelete="CASCADE",
        ),
    )

    agency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """``shared.media.derivatives.derivative_key``: the target and the focal point."""
    storage_key: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MediaUpload(TenantMixin, TimestampMixin, Base):
    __tablename__ = "media_upload"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in UPLOAD_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint("upload_offset BETWEEN 0 AND upload_length", name="offset_in_length"),
        Index("ix_media_upload_expiry", "expires_at", postgresql_where="status = 'open'"),
    )

    upload_length: Mapped[int] = mapped_column(BigInteger)
    upload_offset: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    storage_key: Mapped[str] = mapped_column(Text)
    storage_upload_id: Mapped[str | None] = mapped_column(Text)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    """The storage's completed parts: ``{"number", "etag", "size"}``."""
    tail_size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Bytes received past the last whole part, kept aside until the next part fills."""
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    """What the media will be: name, brand_id, location_id, folder, tags (tus metadata)."""
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    media_id: Mapped[uuid.UUID | None]
    created_by: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime]
