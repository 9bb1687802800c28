from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    actor_type: str = Field(description="user, api_key or system")
    actor_id: uuid.UUID | None
    action: str = Field(examples=["location.update"])
    object_type: str
    object_id: uuid.UUID | None
    changes: dict[str, Any] = Field(
        description='{"field": {"before": …, "after": …}}; secrets are never recorded.'
    )
    request_id: str | None
    client_ip: str | None
