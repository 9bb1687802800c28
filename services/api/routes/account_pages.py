"""The pages the links Chorus mails open: choose a new password, accept an invitation."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
