"""google_business: not served yet."""

from fastapi import APIRouter

PLATFORM = "google_business"

router = APIRouter(tags=[PLATFORM])
