"""What Facebook's and Instagram's Graph APIs share in the sandbox: the error body, the usage
headers, the token errors, the missing-object answer, the time format."""

import json
import math
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from services.sandbox.ratelimit import WindowStatus
from services.sandbox.state import TokenProblem


def graph_error(
    status: int,
    message: str,
    code: int,
    *,
    subcode: int | None = None,
    transient: bool = False,
    user_title: str | None = None,
    user_msg: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = transient
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def usage_headers(
    account_id: str, status: WindowStatus, now: float, usage_type: str
) -> dict[str, str]:
    """``X-App-Usage`` and ``X-Business-Use-Case-Usage`` as percentages of the window."""
    pct = min(100, math.floor(100 * status.used / status.limit)) if status.limit else 100
    regain = 0 if status.remaining else max(1, math.ceil((status.reset_at - now) / 60))
    app = {"call_count": pct, "total_cputime": pct, "total_time": pct}
    buc = {
        account_id: [
            {
                "type": usage_type,
                "call_count": pct,
                "total_cputime": pct,
                "total_time": pct,
                "estimated_time_to_regain_access": regain,
            }
        ]
    }
    return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(buc)}


def token_error(problem: TokenProblem) -> JSONResponse:
    if problem is TokenProblem.EXPIRED:
        return graph_error(
            400, "Error validating access token: Session has expired.", 190, subcode=463
        )
    if problem is TokenProblem.REVOKED:
        return revoked()
    return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190)


def revoked() -> JSONResponse:
    return graph_error(
        400,
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons.",
        190,
        subcode=460,
    )


def no_object(object_id: str) -> JSONResponse:
    return graph_error(
        400,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        100,
        subcode=33,
    )


def graph_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
