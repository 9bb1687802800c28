"""The media library (issue #17): library entries (with where their processing is), blobs
(one processed file per agency and content hash), per-platform derivatives and resumable uploads;
each under row-level security like every tenant table. Posts gain an index on the media they
name while not yet ended, so that "is this file used by a scheduled post?" is one lookup.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 19:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("media_blob", "media", "media_derivative", "media_upload")
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"
NOT_ENDED = (
    "('draft', 'needs_approval', 'approved', 'scheduled', 'queued', 'publishing', 'unconfirmed')"
)


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "media_blob",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("original_key", sa.Text(), nullable=False),
        sa.Column("clean_key", sa.Text(), nullable=False),
        sa.Column("poster_key", sa.Text(), nullable=True),
        sa.Column("media_type", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("facts", postgresql.JSONB(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("agency_id", "sha256", name=op.f("pk_media_blob")),
    )
    op.create_table(
        "media",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("brand_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failure_code", sa.String(40), nullable=True),
        sa.Column("failure_detail", sa.Text(), nullable=True),
        sa.Column("upload_key", sa.Text(), nullable=True),
        sa.Column("upload_size", sa.BigInteger(), nullable=False),
        sa.Column("upload_type", sa.String(10), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("folder", sa.String(200), server_default="", nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(50)), server_default="{}", nullable=False),
        sa.Column("focal_x", sa.Float(), server_default="0.5", nullable=False),
        sa.Column("focal_y", sa.Float(), server_default="0.5", nullable=False),
        sa.Column("rights_expire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "location_id IS NULL OR brand_id IS NOT NULL", name=op.f("ck_media_location_in_brand")
        ),
        sa.CheckConstraint(
            "focal_x BETWEEN 0 AND 1 AND focal_y BETWEEN 0 AND 1", name=op.f("ck_media_focal_range")
        ),
        sa.CheckConstraint(
            "status IN ('processing', 'ready', 'failed')", name=op.f("ck_media_status_known")
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_media_progress_range")),
        sa.CheckConstraint(
            "status <> 'ready' OR sha256 IS NOT NULL", name=op.f("ck_media_ready_has_blob")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "sha256"],
            ["media_blob.agency_id", "media_blob.sha256"],
            name=op.f("fk_media_agency_id_media_blob"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "brand_id"],
            ["brand.agency_id", "brand.id"],
            name=op.f("fk_media_agency_id_brand"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "location_id"],
            ["location.agency_id", "location.id"],
            name=op.f("fk_media_agency_id_location"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_media")),
    )
    op.create_index(
        op.f("ix_media_agency_id_brand_id_created_at_id"),
        "media",
        ["agency_id", "brand_id", "created_at", "id"],
    )
    op.create_index(op.f("ix_media_agency_id_sha256"), "media", ["agency_id", "sha256"])
    op.create_index(
        "ix_media_processing",
        "media",
        ["created_at"],
        postgresql_where=sa.text("status = 'processing'"),
    )
    op.create_index(
        "ix_media_purge",
        "media",
        ["purge_after"],
        postgresql_where=sa.text("purge_after IS NOT NULL"),
    )
    op.create_table(
        "media_derivative",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("facts", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "sha256"],
            ["media_blob.agency_id", "media_blob.sha256"],
            name=op.f("fk_media_derivative_agency_id_media_blob"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "sha256", "key", name=op.f("pk_media_derivative")),
    )
    op.create_table(
        "media_upload",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upload_length", sa.BigInteger(), nullable=False),
        sa.Column("upload_offset", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("storage_upload_id", sa.Text(), nullable=True),
        sa.Column("parts", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("tail_size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("details", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("status", sa.String(20), server_default="open", nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('open', 'complete', 'aborted')", name=op.f("ck_media_upload_status_known")
        ),
        sa.CheckConstraint(
            "upload_offset BETWEEN 0 AND upload_length",
            name=op.f("ck_media_upload_offset_in_length"),
        ),
        sa.PrimaryKeyConstraint("agency_id", "id", name=op.f("pk_media_upload")),
    )
    op.create_index(
        "ix_media_upload_expiry",
        "media_upload",
        ["expires_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
        )
    op.create_index(
        "ix_post_media_in_use",
        "post",
        ["media"],
        postgresql_using="gin",
        postgresql_ops={"media": "jsonb_path_ops"},
        postgresql_where=sa.text(f"status IN {NOT_ENDED}"),
    )


def downgrade() -> None:
    op.drop_index("ix_post_media_in_use", table_name="post")
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
