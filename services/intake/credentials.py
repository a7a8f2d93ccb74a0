"""A short-lived cache of API-key look-ups, so a busy client does not cost a database
round trip per call.

What is cached is only a key that was found (by the SHA-256 of its secret, never the
secret), for ``ttl_s`` seconds: a key revoked with ``docket keys revoke`` (or replaced)
stops working on every intake instance within that time; a key just created works at
once, since an unknown key is never cached. At most ``max_entries`` keys are kept; the
oldest entry is dropped first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from services.intake.domain.keys import Credential, secret_digest

#: How long a key found in the database is trusted without asking again; the longest a
#: revoked key still works.
CREDENTIAL_TTL_S = 5.0
CREDENTIAL_CACHE_SIZE = 1024

Lookup = Callable[[str], Awaitable[Credential | None]]


class CredentialCache:
    def __init__(
        self,
        lookup: Lookup,
        ttl_s: float = CREDENTIAL_TTL_S,
        max_entries: int = CREDENTIAL_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        #: digest -> (credential, monotonic time it stops being trusted), oldest first
        self._entries: dict[str, tuple[Credential, float]] = {}

    async def credential(self, secret: str) -> Credential | None:
        digest = secret_digest(secret)
        asked_at = self._clock()
        cached = self._entries.get(digest)
        if cached is not None:
            credential, expires_at = cached
            if asked_at < expires_at:
                return credential
            del self._entries[digest]
        found = await self._lookup(secret)
        if found is None or self._ttl_s <= 0:
            return found
        # trusted for ttl_s from when the database was asked, not from when it answered
        self._entries.pop(digest, None)  # a concurrent look-up may have stored it already
        while len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = (found, asked_at + self._ttl_s)
        return found
