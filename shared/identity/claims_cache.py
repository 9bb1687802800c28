"""Verified access-token claims, remembered per process so a token's signature is checked
once, not on every request. Bounded (least recently used out); expiry is re-checked by the
caller on every use. Whether the token's session is still live is not cached: it is read on
every request (``shared.identity.sessions.enter``). Ending a session still drops its tokens
here, so a revoked token is never served from memory."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable

from shared.identity.tokens import AccessClaims


class ClaimsCache:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, AccessClaims] = OrderedDict()
        self._by_session: dict[uuid.UUID, set[str]] = {}

    def get(self, token: str) -> AccessClaims | None:
        claims = self._items.get(token)
        if claims is not None:
            self._items.move_to_end(token)
        return claims

    def put(self, token: str, claims: AccessClaims) -> None:
        self._items[token] = claims
        self._items.move_to_end(token)
        self._by_session.setdefault(claims.session_id, set()).add(token)
        while len(self._items) > self._capacity:
            old_token, old = self._items.popitem(last=False)
            self._unindex(old_token, old)

    def drop(self, token: str) -> None:
        claims = self._items.pop(token, None)
        if claims is not None:
            self._unindex(token, claims)

    def drop_sessions(self, session_ids: Iterable[uuid.UUID]) -> None:
        for session_id in session_ids:
            for token in self._by_session.pop(session_id, set()):
                self._items.pop(token, None)

    def __len__(self) -> int:
        return len(self._items)

    def _unindex(self, token: str, claims: AccessClaims) -> None:
        tokens = self._by_session.get(claims.session_id)
        if tokens is not None:
            tokens.discard(token)
            if not tokens:
                del self._by_session[claims.session_id]
