"""Time-ordered identifiers: UUIDv7 keeps B-tree inserts local; ``id`` order is creation order."""

from __future__ import annotations

import uuid

import uuid_utils.compat as _uuid_compat


def new_id() -> uuid.UUID:
    return _uuid_compat.uuid7()
