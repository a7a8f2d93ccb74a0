"""The API-key cache: a key found is trusted for at most its TTL (so a revoked key stops
working within it), an unknown key is never cached, and the cache stays bounded."""

from __future__ import annotations

from services.intake.credentials import CREDENTIAL_TTL_S, CredentialCache
from services.intake.domain.keys import Credential, Scope

SECRET = "s" * 40
OTHER = "o" * 40
CREDENTIAL = Credential("k_1", "legal-ops", frozenset({Scope.SUBMIT}))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Keys:
    """The database's keys; counts the look-ups. ``delay_s`` advances ``clock`` while
    a look-up is in flight (a slow database)."""

    def __init__(self, clock: Clock, delay_s: float = 0.0) -> None:
        self.active = {SECRET: CREDENTIAL, OTHER: Credential("k_2", "portal", frozenset())}
        self.lookups = 0
        self.clock = clock
        self.delay_s = delay_s

    async def lookup(self, secret: str) -> Credential | None:
        self.lookups += 1
        found = self.active.get(secret)
        self.clock.now += self.delay_s
        return found


async def test_a_found_key_is_reused_within_its_ttl() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, clock=clock)
    assert await cache.credential(SECRET) == CREDENTIAL
    clock.now += 4.9
    assert await cache.credential(SECRET) == CREDENTIAL
    assert keys.lookups == 1


async def test_a_revoked_key_stops_working_once_the_ttl_is_over() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, clock=clock)
    assert await cache.credential(SECRET) == CREDENTIAL
    del keys.active[SECRET]  # docket keys revoke
    clock.now += 5.0
    assert await cache.credential(SECRET) is None
    assert keys.lookups == 2


async def test_the_ttl_counts_from_when_the_database_was_asked() -> None:
    clock = Clock()
    keys = Keys(clock, delay_s=2.0)  # the answer arrives 2 s after the question
    cache = CredentialCache(keys.lookup, ttl_s=5.0, clock=clock)
    assert await cache.credential(SECRET) == CREDENTIAL
    del keys.active[SECRET]
    clock.now += 3.0  # 5 s after the database was asked, 3 s after it answered
    assert await cache.credential(SECRET) is None


async def test_an_unknown_key_is_not_cached() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, clock=clock)
    new_secret = "n" * 40
    assert await cache.credential(new_secret) is None
    keys.active[new_secret] = CREDENTIAL  # docket keys create
    assert await cache.credential(new_secret) == CREDENTIAL


async def test_the_cache_is_bounded_and_drops_the_oldest_key() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, max_entries=1, clock=clock)
    await cache.credential(SECRET)
    await cache.credential(OTHER)  # evicts SECRET
    await cache.credential(SECRET)
    assert keys.lookups == 3


async def test_the_default_ttl_is_a_few_seconds() -> None:
    assert 0 < CREDENTIAL_TTL_S <= 10
