from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, tenant_table
from shared.ids import new_id


class Agency(Base):
    """The tenant. Its ``id`` is the ``agency_id`` every other tenant row carries."""

    __tablename__ = tenant_table("agency")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
