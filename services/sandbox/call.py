"""What every platform's authenticated call carries once it passed the token check, the
faults and the rate window: the request, the sandbox, the platform's state, the token, the
fault rolled for it, and the headers every answer gets (rate-limit or usage headers)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from services.sandbox.faults import FaultKind
from services.sandbox.state import PlatformState, Sandbox, Token


class PlatformCall:
    platform: str
    """Set by each platform's subclass (whose faults and holds these are)."""

    def __init__(
        self,
        request: Request,
        box: Sandbox,
        state: PlatformState,
        token: Token,
        fault: FaultKind | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.request = request
        self.box, self.state, self.token, self.fault = box, state, token, fault
        self.headers: dict[str, str] = headers if headers is not None else {}
        self.now = box.clock.now()

    def json(self, body: dict[str, Any], status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=self.headers)

    async def answer(self, response: Response) -> Response:
        """accept_then_timeout, late_commit: the work is done (and stored); the answer is
        held."""
        if self.fault in (FaultKind.ACCEPT_THEN_TIMEOUT, FaultKind.LATE_COMMIT):
            await self.box.faults.hold(self.platform, self.request)
        return response
