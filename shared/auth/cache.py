"""A short-lived cache of API-key look-ups, and the per-client rate limit.

A key found is trusted for ``ttl_s`` seconds (by the SHA-256 of its secret, never the
secret): a key revoked with ``docket keys revoke`` (or rotated) stops working on every
instance within that time. A secret *not* found is remembered as unknown for
``negative_ttl_s`` seconds, so a client retrying a wrong key (or guessing) costs no
database round trip per call; a key just created may therefore be refused for that long
if it was tried before it existed. At most ``max_entries`` of each are kept; the oldest
entry is dropped first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import SecretStr

from shared.auth.keys import Principal, secret_digest

#: How long a key found in the database is trusted without asking again; the longest a
#: revoked key still works.
CREDENTIAL_TTL_S = 5.0
#: How long a secret not found is answered 401 without asking the database again.
UNKNOWN_KEY_TTL_S = 2.0
CREDENTIAL_CACHE_SIZE = 1024

Lookup = Callable[[SecretStr], Awaitable[Principal | None]]
Clock = Callable[[], float]
T = TypeVar("T")


class _Expiring(Generic[T]):
    """digest -> (value, monotonic time it stops being trusted), oldest first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: dict[str, tuple[T, float]] = {}

    def get(self, digest: str, now: float) -> tuple[T] | None:
        cached = self._entries.get(digest)
        if cached is None:
            return None
        if now >= cached[1]:
            del self._entries[digest]
            return None
        return (cached[0],)

    def put(self, digest: str, value: T, expires_at: float) -> None:
        self._entries.pop(digest, None)  # a concurrent look-up may have stored it already
        while len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = (value, expires_at)


class CredentialCache:
    def __init__(
        self,
        lookup: Lookup,
        ttl_s: float = CREDENTIAL_TTL_S,
        negative_ttl_s: float = UNKNOWN_KEY_TTL_S,
        max_entries: int = CREDENTIAL_CACHE_SIZE,
        clock: Clock = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._negative_ttl_s = negative_ttl_s
        self._clock = clock
        self._found: _Expiring[Principal] = _Expiring(max_entries)
        self._unknown: _Expiring[None] = _Expiring(max_entries)

    async def principal(self, secret: SecretStr) -> Principal | None:
        digest = secret_digest(secret)
        asked_at = self._clock()
        found = self._found.get(digest, asked_at)
        if found is not None:
            return found[0]
        if self._unknown.get(digest, asked_at) is not None:
            return None
        principal = await self._lookup(secret)
        # trusted for the TTL from when the database was asked, not from when it answered
        if principal is None:
            if self._negative_ttl_s > 0:
                self._unknown.put(digest, None, asked_at + self._negative_ttl_s)
        elif self._ttl_s > 0:
            self._found.put(digest, principal, asked_at + self._ttl_s)
        return principal


class RateLimiter:
    """A token bucket per client: ``burst`` calls at once, refilled at ``per_s`` calls a
    second. In process: with N instances behind a load balancer a client may make up to N
    times as many calls. ``per_s <= 0`` turns the limit off."""

    def __init__(
        self,
        per_s: float,
        burst: int,
        max_clients: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self._per_s = per_s
        self._burst = max(burst, 1)
        self._max_clients = max_clients
        self._clock = clock
        #: client -> (tokens, when they were counted), least recently seen first
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait_s(self, client_id: str) -> float:
        """0 when the call may go ahead (a token is taken); otherwise the seconds until a
        token is available (nothing is taken)."""
        if self._per_s <= 0:
            return 0.0
        now = self._clock()
        tokens, counted_at = self._buckets.pop(client_id, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - counted_at) * self._per_s)
        while len(self._buckets) >= self._max_clients:
            del self._buckets[next(iter(self._buckets))]
        if tokens >= 1.0:
            self._buckets[client_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client_id] = (tokens, now)
        return (1.0 - tokens) / self._per_s
