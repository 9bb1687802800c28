"""tiktok: not served yet."""

from fastapi import APIRouter

PLATFORM = "tiktok"

router = APIRouter(tags=[PLATFORM])
