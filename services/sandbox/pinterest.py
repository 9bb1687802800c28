"""pinterest: not served yet."""

from fastapi import APIRouter

PLATFORM = "pinterest"

router = APIRouter(tags=[PLATFORM])
