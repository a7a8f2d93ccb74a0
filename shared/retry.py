"""One retry policy for all of Docket (on ``tenacity``): waiting for Kafka at start-up,
retrying a record's handler before dead-lettering it, waiting out a database outage,
and a notifier channel's short burst of retries.

Every retry waits ``initial_s * 2^(n-1)``, capped at ``max_s``, scaled into its upper
half at random so instances that failed together do not come back together; a failure
may ask for a longer wait (an HTTP ``Retry-After``), still capped at ``max_s``. Each
retry is logged and counted in ``docket_retries_total{operation, error}``; giving up,
in ``docket_retries_exhausted_total{operation, error}``. ``error`` is the exception's
class name, never its message. The counters are the process's: ``create_runtime``
serves them on the service's admin port.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import structlog
from prometheus_client import CollectorRegistry, Counter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    stop_never,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

log = structlog.get_logger("docket.retry")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class RetryMetrics:
    """Retries and give-ups of this process, by operation and error class."""

    def __init__(self) -> None:
        self.retries = Counter(
            "docket_retries",
            "Failed tries that were tried again, by operation and error class",
            ["operation", "error"],
            registry=None,
        )
        self.exhausted = Counter(
            "docket_retries_exhausted",
            "Operations given up after their last try, by operation and error class",
            ["operation", "error"],
            registry=None,
        )

    def serve_in(self, registry: CollectorRegistry) -> None:
        """Export these counters in ``registry`` too (a service's admin registry)."""
        for counter in (self.retries, self.exhausted):
            registry.register(counter)


METRICS: Final = RetryMetrics()


class _Backoff(wait_base):
    """Exponential backoff with upper-half jitter, or the failure's own hint."""

    def __init__(
        self,
        policy: RetryPolicy,
        jitter: Callable[[], float],
        hint: Callable[[BaseException], float | None] | None,
    ) -> None:
        self._policy = policy
        self._jitter = jitter
        self._hint = hint

    def __call__(self, retry_state: RetryCallState) -> float:
        policy = self._policy
        ceiling = min(policy.initial_s * 2.0 ** (retry_state.attempt_number - 1), policy.max_s)
        delay = ceiling * (0.5 + self._jitter() / 2)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        asked = self._hint(error) if self._hint is not None and error is not None else None
        if asked is not None:
            delay = min(max(delay, asked), policy.max_s)
        if policy.within_s is not None:  # never sleep past the time given
            elapsed = retry_state.seconds_since_start or 0.0
            delay = min(delay, max(policy.within_s - elapsed, 0.0))
        return delay


@dataclass(frozen=True)
class RetryPolicy:
    """How one operation is tried again: at most ``attempts`` tries and/or for at most
    ``within_s`` seconds (neither: until it succeeds), backoff from ``initial_s`` to
    ``max_s``; ``log_event`` names the log line of each retry."""

    operation: str
    log_event: str
    attempts: int | None = None
    within_s: float | None = None
    initial_s: float = 0.5
    max_s: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    async def call(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        retry_if: Callable[[BaseException], bool],
        wait_hint: Callable[[BaseException], float | None] | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        **log_fields: Any,
    ) -> T:
        """``await operation()``, trying again while it raises an error ``retry_if``
        accepts. An error it refuses is raised at once; once the policy gives up, the
        last error is raised."""
        stops: list[stop_base] = []
        if self.attempts is not None:
            stops.append(stop_after_attempt(self.attempts))
        if self.within_s is not None:
            stops.append(stop_after_delay(self.within_s))
        stop = stop_any(*stops) if stops else stop_never

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            name = type(error).__name__
            METRICS.retries.labels(self.operation, name).inc()
            log.warning(
                self.log_event,
                operation=self.operation,
                attempt=state.attempt_number,
                error=name,
                retry_in_s=round(state.upcoming_sleep, 3),
                **log_fields,
            )

        def gave_up(state: RetryCallState) -> T:
            assert state.outcome is not None
            METRICS.exhausted.labels(self.operation, type(state.outcome.exception()).__name__).inc()
            result: T = state.outcome.result()  # raises the last error
            return result

        retrying = AsyncRetrying(
            stop=stop,
            wait=_Backoff(self, jitter, wait_hint),
            retry=retry_if_exception(retry_if),
            before_sleep=before_sleep,
            retry_error_callback=gave_up,
            sleep=sleep,
        )

        async def attempt() -> T:  # tenacity awaits only what a coroutine function returns
            return await operation()

        result: T = await retrying(attempt)
        return result


#: Kafka unreachable when a service starts: tried for ``DOCKET_KAFKA_CONNECT_TIMEOUT_S``.
KAFKA_STARTUP: Final = RetryPolicy("kafka_startup", "kafka_unreachable_retrying")
#: A record's handler failed on a good record: two more tries, then the dead-letter topic.
RECORD_HANDLER: Final = RetryPolicy(
    "record_handler", "handler_failed_retrying", attempts=3, initial_s=0.2, max_s=1.0
)
#: PostgreSQL unreachable while a result must be recorded: waited out without end.
DATABASE_OUTAGE: Final = RetryPolicy(
    "database_outage", "database_unavailable_retrying", initial_s=0.2, max_s=5.0
)
#: A notice channel's blip (a 503, a dropped connection): a short burst of sends.
CHANNEL_SEND: Final = RetryPolicy("channel_send", "notice_send_retrying", attempts=3)
