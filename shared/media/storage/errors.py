"""What storage refuses. Keys are built by our own code, so a bad key is a bug (``ValueError``);
a missing object or upload and a badly assembled multipart upload are the caller's to answer."""

from __future__ import annotations

from shared.errors import BadRequest, NotFound


class InvalidKey(ValueError):
    """The key could escape its place: ``..``, an absolute path, NUL, a backslash..."""


class ObjectNotFound(NotFound):
    code = "media_object_not_found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no stored object at {key!r}")
        self.key = key


class UploadNotFound(NotFound):
    code = "media_upload_not_found"

    def __init__(self, key: str, upload_id: str) -> None:
        super().__init__(
            f"no multipart upload {upload_id!r} for {key!r} (completed, aborted or never begun)"
        )


class InvalidParts(BadRequest):
    """The parts given to complete an upload are not the ones stored, or not in order."""

    code = "media_upload_parts_invalid"


class PartTooSmall(InvalidParts):
    """S3's rule, kept by every back-end: each part but the last is at least 5 MiB."""

    code = "media_upload_part_too_small"
