"""linkedin: not served yet."""

from fastapi import APIRouter

PLATFORM = "linkedin"

router = APIRouter(tags=[PLATFORM])
