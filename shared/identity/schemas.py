from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool

from shared.fieldtypes import Name


class SignUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_name: Name = Field(examples=["Northwind Local Marketing"])
    full_name: Name = Field(examples=["Ada Owner"])
    email: EmailStr = Field(examples=["ada@northwind.example"])
    password: str = Field(min_length=1, max_length=256, examples=["correct horse battery staple"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    agency_id: uuid.UUID | None = Field(
        default=None, description="Agency to sign in to; the user's first agency when omitted."
    )


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=2000)


class TokenPair(BaseModel):
    token_type: str = "Bearer"
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    agency_id: uuid.UUID
    user_id: uuid.UUID


class SignUpOut(TokenPair):
    agency_name: str


class SessionOut(BaseModel):
    """One login (its refresh-token family); ``current`` is the one making this request."""

    id: uuid.UUID
    agency_id: uuid.UUID
    created_at: datetime
    last_refreshed_at: datetime
    expires_at: datetime
    ip: str | None
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]


class SessionsEnded(BaseModel):
    ended: int


class EndSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: uuid.UUID


class ChangePasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PasswordChanged(BaseModel):
    sessions_ended: int


class ForgotPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class ForgotPasswordOut(BaseModel):
    detail: str = (
        "if an account has this address, a mail with a link to choose a new password is on "
        "its way; the link works once, for 30 minutes"
    )


class ResetPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=256)


class TwoFactorChallenge(BaseModel):
    """The password was right; a second step is needed (the code, or setting it up first)."""

    two_factor_required: bool = True
    enrolment_required: bool = Field(
        description="The agency requires two-factor sign-in and this account has none yet: "
        "set it up with POST /v1/auth/login/two-factor/setup and /confirm."
    )
    challenge_token: str
    challenge_expires_at: datetime


class TwoFactorLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_token: str = Field(min_length=1, max_length=2000)
    code: str | None = Field(default=None, max_length=20, description="From the authenticator.")
    recovery_code: str | None = Field(default=None, max_length=40)


class ChallengeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_token: str = Field(min_length=1, max_length=2000)


class ChallengeConfirmIn(ChallengeIn):
    code: str = Field(min_length=1, max_length=20)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=20)


class TwoFactorSetupOut(BaseModel):
    secret: str = Field(description="Shown this once: enter it in the authenticator app.")
    otpauth_uri: str


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="Shown this once; each works once instead of a code."
    )


class EnrolledLoginOut(TokenPair):
    recovery_codes: list[str]


class TwoFactorStatus(BaseModel):
    enabled: bool
    recovery_codes_left: int
    required_by_agency: bool


class DisableTwoFactorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=256)
    code: str | None = Field(default=None, max_length=20)
    recovery_code: str | None = Field(default=None, max_length=40)


class AgencySecurityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_two_factor: StrictBool  # true or false: 0 and 1 are not an answer to "require it?"


class AgencySecurityOut(BaseModel):
    require_two_factor: bool
    sessions_ended: int = 0
