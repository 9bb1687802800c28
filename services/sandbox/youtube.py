"""youtube: not served yet."""

from fastapi import APIRouter

PLATFORM = "youtube"

router = APIRouter(tags=[PLATFORM])
