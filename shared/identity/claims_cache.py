"""Verified access-token claims, remembered per process so a token's signature is checked
once, not on every request. Bounded (least recently used out); expiry is re-checked by the
caller on every use."""

from __future__ import annotations

from collections import OrderedDict

from shared.identity.tokens import AccessClaims


class ClaimsCache:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, AccessClaims] = OrderedDict()

    def get(self, token: str) -> AccessClaims | None:
        claims = self._items.get(token)
        if claims is not None:
            self._items.move_to_end(token)
        return claims

    def put(self, token: str, claims: AccessClaims) -> None:
        self._items[token] = claims
        self._items.move_to_end(token)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def drop(self, token: str) -> None:
        self._items.pop(token, None)
