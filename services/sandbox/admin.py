"""Test and demo controls under ``/_sandbox``: faults, reset, posts, publish counts, clock,
token revocation. Not part of any platform's API."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict

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


@router.get("/platforms")
async def platforms(request: Request) -> dict[str, list[str]]:
    return {"platforms": sorted(request.app.state.platforms)}


@router.get("/faults/{platform}")
async def get_faults(platform: str, request: Request) -> FaultConfig:
    return sandbox(request).faults.get(_known(request, platform)).config


@router.put("/faults/{platform}")
async def put_faults(platform: str, config: FaultConfig, request: Request) -> FaultConfig:
    return sandbox(request).faults.set(_known(request, platform), config).config


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
