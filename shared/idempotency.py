"""``Idempotency-Key`` for POSTs: a retried request answers what the first one did.

The key is scoped to (agency, principal). The first request with a key inserts its row in
the request's own transaction (``INSERT … ON CONFLICT DO NOTHING``): a concurrent request
with the same key waits on that row until the first commits, then replays its answer. The
answer (status and JSON body) is stored in the same transaction as the work, so either both
exist or neither does: a request that fails leaves no key behind and may be retried.

- same key, same request (method, path, body as canonical JSON) → the stored answer with
  ``Idempotent-Replayed: true``;
- same key, another request → 422 naming the header;
- keys expire after ``TTL`` (a later request with the key runs again; ``purge_expired``
  deletes old rows, for a daily cron).

Use in a route::

    async def create_thing(data: ThingIn, session: Session, principal: CurrentPrincipal,
                           idempotency: Idempotency) -> Response:
        return await idempotency.run(session, principal, lambda: service.create(...),
                                     status_code=201)
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access.principal import Principal
from shared.errors import Conflict, FieldProblem, ValidationFailed
from shared.ids import new_id

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)
_FIELD = f"header.{HEADER}"

_DROP_EXPIRED = text(
    "DELETE FROM idempotent_request WHERE agency_id = :agency_id AND principal = :principal "
    "AND key = :key AND created_at < :expired_before"
)
_CLAIM = text(
    """
    INSERT INTO idempotent_request
        (agency_id, id, principal, key, method, path, request_hash, created_at)
    VALUES (:agency_id, :id, :principal, :key, :method, :path, :hash, :now)
    ON CONFLICT (agency_id, principal, key) DO NOTHING
    RETURNING id
    """
)
_STORED = text(
    "SELECT request_hash, status_code, response FROM idempotent_request "
    "WHERE agency_id = :agency_id AND principal = :principal AND key = :key"
)
_SAVE = text(
    "UPDATE idempotent_request SET status_code = :status, response = CAST(:response AS jsonb) "
    "WHERE agency_id = :agency_id AND id = :id"
)


def request_hash(method: str, path: str, body: bytes) -> str:
    """The same JSON with other spacing or key order is the same request."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotentCall:
    """One request's key (or none) and how to run the route's work under it."""

    __slots__ = ("body", "key", "method", "path")

    def __init__(self, key: str | None, method: str, path: str, body: bytes) -> None:
        self.key = key
        self.method = method
        self.path = path
        self.body = body

    async def run(
        self,
        session: AsyncSession,
        principal: Principal,
        work: Callable[[], Awaitable[Any]],
        *,
        status_code: int,
    ) -> JSONResponse:
        """The stored answer for a known key; else ``work()``'s result as JSON, stored with
        the key in the same transaction."""
        if self.key is None:
            return JSONResponse(jsonable_encoder(await work()), status_code=status_code)
        ids = {"agency_id": principal.agency_id, "principal": principal.actor, "key": self.key}
        now = datetime.now(UTC)
        fingerprint = request_hash(self.method, self.path, self.body)
        await session.execute(_DROP_EXPIRED, {**ids, "expired_before": now - TTL})
        row_id = new_id()
        claimed = (
            await session.execute(
                _CLAIM,
                {
                    **ids,
                    "id": row_id,
                    "method": self.method.upper(),
                    "path": self.path[:500],
                    "hash": fingerprint,
                    "now": now,
                },
            )
        ).scalar_one_or_none()
        if claimed is None:
            return await self._replay(session, ids, fingerprint)
        body = jsonable_encoder(await work())
        await session.execute(
            _SAVE,
            {
                "agency_id": principal.agency_id,
                "id": row_id,
                "status": status_code,
                "response": orjson.dumps(body).decode(),
            },
        )
        return JSONResponse(body, status_code=status_code)

    async def _replay(
        self, session: AsyncSession, ids: dict[str, Any], fingerprint: str
    ) -> JSONResponse:
        stored = (await session.execute(_STORED, ids)).one()
        if stored.request_hash != fingerprint:
            message = (
                f"this {HEADER} was already used for another request (a different method, "
                "path or body); use a new key for a new request"
            )
            raise ValidationFailed(
                message,
                code="idempotency_key_reused",
                errors=[FieldProblem(_FIELD, message, "idempotency_key_reused")],
            )
        if stored.status_code is None:  # only if the first request committed half-way
            raise Conflict(
                f"the request with this {HEADER} is still being processed; retry shortly",
                code="idempotency_in_progress",
            )
        return JSONResponse(
            stored.response, status_code=stored.status_code, headers={REPLAYED_HEADER: "true"}
        )


async def idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="A unique key (a UUID) per intended request: retrying with the same key "
            "and body answers the first response again, with `Idempotent-Replayed: true`. "
            "Keys are kept 24 hours.",
        ),
    ] = None,
) -> IdempotentCall:
    body = await request.body() if key is not None else b""
    return IdempotentCall(key, request.method, request.url.path, body)


Idempotency = Annotated[IdempotentCall, Depends(idempotency)]


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Deletes keys older than ``TTL`` of the session's agency (row-level security)."""
    result = await session.execute(
        text("DELETE FROM idempotent_request WHERE created_at < :before"),
        {"before": (now or datetime.now(UTC)) - TTL},
    )
    return int(getattr(result, "rowcount", 0) or 0)
