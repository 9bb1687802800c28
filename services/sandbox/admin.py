"""Test and demo controls under ``/_sandbox``: faults, reset, posts, publish counts, clock,
token revocation, reviews (list, add, edit). Not part of any platform's API."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.sandbox import activity
from services.sandbox.deps import sandbox
from services.sandbox.faults import FaultConfig

router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float


class TokenRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str


def _known(request: Request, platform: str) -> str:
    if platform not in request.app.state.platforms:
        raise HTTPException(404, f"unknown platform {platform!r}")
    return platform


SANDBOX_IDENTITY = {"service": "chorus-sandbox"}


@router.get("/identity")
async def identity() -> dict[str, str]:
    """Who answers on this port: ``make run`` waits for this answer, so another program
    listening on the sandbox's port is told apart from the sandbox."""
    return SANDBOX_IDENTITY


@router.get("/platforms")
async def platforms(request: Request) -> dict[str, list[str]]:
    return {"platforms": sorted(request.app.state.platforms)}


@router.get("/faults/{platform}")
async def get_faults(platform: str, request: Request) -> FaultConfig:
    return sandbox(request).faults.get(_known(request, platform)).config


@router.put("/faults/{platform}")
async def put_faults(platform: str, config: FaultConfig, request: Request) -> FaultConfig:
    box = sandbox(request)
    box.platform(platform).windows.fault_retry_after_s = config.retry_after_s
    return box.faults.set(_known(request, platform), config).config


@router.get("/fault-counts/{platform}")
async def fault_counts(platform: str, request: Request) -> dict[str, dict[str, int]]:
    """How many calls each fault hit since the faults were last set."""
    faults = sandbox(request).faults.get(_known(request, platform))
    return {"counts": {kind.value: n for kind, n in faults.counts.items()}}


@router.post("/reset")
async def reset(request: Request) -> dict[str, bool]:
    sandbox(request).reset()
    return {"reset": True}


@router.get("/posts/{platform}")
async def posts(platform: str, request: Request) -> dict[str, list[dict[str, Any]]]:
    state = sandbox(request).platform(_known(request, platform))
    return {"data": [post.public() for post in state.posts.values()]}


@router.get("/publish-counts/{platform}")
async def publish_counts(platform: str, request: Request) -> dict[str, dict[str, int]]:
    state = sandbox(request).platform(_known(request, platform))
    return {"counts": dict(state.publish_counts)}


@router.post("/clock/advance")
async def advance_clock(body: ClockAdvance, request: Request) -> dict[str, float]:
    box = sandbox(request)
    box.clock.advance(body.seconds)
    return {"now": box.clock.now(), "offset_s": box.clock.offset_s}


@router.post("/tokens/{platform}/revoke")
async def revoke_token(platform: str, body: TokenRef, request: Request) -> dict[str, bool]:
    state = sandbox(request).platform(_known(request, platform))
    token = state.tokens.get(body.token)
    if token is None:
        raise HTTPException(404, "unknown token")
    token.revoked = True
    return {"revoked": True}


class NewReview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5)
    text: str
    author: str = "Sandbox Reviewer"


class ReviewEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int | None = Field(default=None, ge=1, le=5)
    text: str | None = None


@router.get("/reviews/{platform}/{account_id}")
async def list_reviews(platform: str, account_id: str, request: Request) -> dict[str, Any]:
    box = sandbox(request)
    state = box.platform(_known(request, platform))
    found = activity.reviews(state, account_id, box.clock.now())
    return {"data": [asdict(r) for r in found]}


@router.post("/reviews/{platform}/{account_id}", status_code=201)
async def add_review(
    platform: str, account_id: str, body: NewReview, request: Request
) -> dict[str, Any]:
    """A new review arrives (for collection tests)."""
    box = sandbox(request)
    state = box.platform(_known(request, platform))
    now = box.clock.now()
    activity.reviews(state, account_id, now)  # the history exists before the newcomer
    review = activity.add_review(
        state, account_id, rating=body.rating, text=body.text, author=body.author, at=now
    )
    return asdict(review)


@router.patch("/reviews/{platform}/{account_id}/{review_id}")
async def edit_review(
    platform: str, account_id: str, review_id: str, body: ReviewEdit, request: Request
) -> dict[str, Any]:
    """The reviewer edits their review: new text or rating, a newer update time."""
    box = sandbox(request)
    state = box.platform(_known(request, platform))
    now = box.clock.now()
    review = activity.find_review(state, account_id, review_id, now)
    if review is None:
        raise HTTPException(404, "unknown review")
    if body.rating is not None:
        review.rating = body.rating
    if body.text is not None:
        review.text = body.text
    review.updated_at = now
    return asdict(review)


@router.get("/media/{platform}")
async def received_media(platform: str, request: Request) -> dict[str, list[dict[str, Any]]]:
    """Every media file the platform fetched or was sent, in order: its source, type, size,
    facts, whether it carried GPS, and whether the platform took it (and why not)."""
    state = sandbox(request).platform(_known(request, platform))
    return {"data": [got.public() for got in state.received_media]}


@router.get("/media/{platform}/{index}/bytes")
async def received_bytes(platform: str, index: int, request: Request) -> Response:
    """The bytes of one file the platform received (``index`` in the list above)."""
    state = sandbox(request).platform(_known(request, platform))
    if not 0 <= index < len(state.received_media):
        raise HTTPException(404, f"no media {index} received by {platform}")
    got = state.received_media[index]
    return Response(got.body, media_type=got.content_type or "application/octet-stream")
