"""Object storage for media: one streaming interface (:class:`Storage`), a filesystem back-end
(the embedded default) and an S3-compatible one, chosen by the settings.

The S3 back-end uses aiobotocore rather than obstore. Both stream ranged reads and multipart
writes and take a custom endpoint with path-style addressing, and obstore installs smaller (16 MB
with no dependencies, against 31 MB for botocore alone); but obstore 0.12 has no
multipart upload by upload id (create, put a part, complete or abort in separate calls, perhaps
separate processes), which resumable uploads need, while aiobotocore exposes every S3 call as
S3 defines it. aiobotocore rides on the aiohttp client Chorus already uses, has been maintained
since 2016 (s3fs and many others build on it), and has complete type stubs.
"""

from shared.media.storage.base import (
    CHUNK_SIZE,
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    ObjectInfo,
    PartInfo,
    Storage,
)
from shared.media.storage.errors import (
    InvalidKey,
    InvalidParts,
    ObjectNotFound,
    PartTooSmall,
    UploadNotFound,
)
from shared.media.storage.factory import storage_from_settings
from shared.media.storage.keys import agency_of_key, object_key, validate_key

__all__ = [
    "CHUNK_SIZE",
    "MAX_PART_NUMBER",
    "MIN_PART_SIZE",
    "InvalidKey",
    "InvalidParts",
    "ObjectInfo",
    "ObjectNotFound",
    "PartInfo",
    "PartTooSmall",
    "Storage",
    "UploadNotFound",
    "agency_of_key",
    "object_key",
    "storage_from_settings",
    "validate_key",
]
