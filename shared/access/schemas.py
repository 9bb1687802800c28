from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared.access.roles import Role, ScopeType
from shared.fieldtypes import Name


class ScopedRoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    brand_id: uuid.UUID | None = Field(default=None, description="For brand roles.")
    location_id: uuid.UUID | None = Field(default=None, description="For location roles.")


class InvitationCreate(ScopedRoleIn):
    email: EmailStr = Field(examples=["franchisee@example.com"])


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: Role
    scope_type: ScopeType
    scope_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    status: str


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=400)
    password: str = Field(
        min_length=1,
        max_length=256,
        description="A new password for a new account, or the existing account's password.",
    )
    full_name: Name | None = Field(default=None, description="Needed for a new account.")


class MembershipOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    scope_type: ScopeType
    scope_id: uuid.UUID | None
    created_at: datetime


class MembershipUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="A role of the same scope kind as the current one.")


class ApiKeyCreate(ScopedRoleIn):
    name: Name = Field(examples=["CRM sync"])
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    scope_type: ScopeType
    scope_id: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown only now: store it safely.")


class GrantOut(BaseModel):
    role: Role
    scope_type: ScopeType
    scope_id: uuid.UUID | None
    permissions: list[str]


class AgencyRef(BaseModel):
    id: uuid.UUID
    name: str


class MeOut(BaseModel):
    user_id: uuid.UUID
    email: str
    full_name: str
    agency: AgencyRef
    agencies: list[AgencyRef] = Field(description="Every agency you can sign in to.")
    grants: list[GrantOut] = Field(description="Your roles in this agency and what each allows.")
