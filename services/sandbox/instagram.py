"""instagram: not served yet."""

from fastapi import APIRouter

PLATFORM = "instagram"

router = APIRouter(tags=[PLATFORM])
