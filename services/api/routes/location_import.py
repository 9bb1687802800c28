"""Bulk import and export of a brand's locations (CSV and JSON)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["locations"])
