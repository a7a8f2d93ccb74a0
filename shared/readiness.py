"""``/readyz`` that costs the same however often it is called: each dependency check (a
broker ping, a database round trip) runs at most once per interval, and callers that
arrive while a check runs wait for that one instead of starting their own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

ReadinessCheck = Callable[[], Awaitable[bool]]
#: How long one dependency may take to answer before it counts as not ready.
CHECK_TIMEOUT_S = 3.0


class CachedReadiness:
    """The latest answer of every check, at most ``interval_s`` old.

    ``checks`` is read at each refresh, so checks added after construction count."""

    def __init__(
        self,
        checks: Mapping[str, ReadinessCheck],
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = checks
        self._interval_s = interval_s
        self._clock = clock
        self._results: dict[str, bool] | None = None
        self._checked_at = 0.0
        self._refresh: asyncio.Future[dict[str, bool]] | None = None

    async def results(self) -> dict[str, bool]:
        """``{"kafka": True, "postgres": False, ...}``."""
        fresh = self._clock() - self._checked_at < self._interval_s
        if self._results is not None and fresh:
            return self._results
        if self._refresh is None:
            self._refresh = asyncio.ensure_future(self._check_all())
        # shielded: a caller that gives up does not cancel the check others wait for
        return await asyncio.shield(self._refresh)

    async def _check_all(self) -> dict[str, bool]:
        try:
            names = list(self._checks)
            answers = await asyncio.gather(*(self._check(name) for name in names))
            self._results = dict(zip(names, answers, strict=True))
            self._checked_at = self._clock()
            return self._results
        finally:
            self._refresh = None

    async def _check(self, name: str) -> bool:
        try:
            return bool(await asyncio.wait_for(self._checks[name](), timeout=CHECK_TIMEOUT_S))
        except Exception:
            return False
