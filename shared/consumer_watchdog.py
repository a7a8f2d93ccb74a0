"""A watchdog on every Kafka consumer of a service, behind ``/healthz``.

A consumer can stop reading while its process looks healthy: aiokafka 0.14's fetch task
dies on some errors of a half-open broker link (``Unexpected error in fetcher
routine``) and nothing in aiokafka watches it, so the member goes on heartbeating and
holding its partitions and never fetches again. Those partitions stall until the
process is replaced. The watchdog finds such a consumer and fails ``/healthz``, so the
supervisor (Kubernetes' liveness probe, the chaos suite's prober) restarts the
instance; its partitions go to the restarted member, which reads them from the last
committed offsets (nothing is lost, nothing was committed past what was processed).

A consumer is **dead** when its fetch task has ended (crashed or returned), and
**stalled** when a partition it holds has records beyond its position (lag, as of the
last fetch), none of them buffered for the handler, and the position has not moved for
``stall_s`` while the broker answers this service. A consumer waiting out a database
outage re-reads its records every few seconds (its buffer fills again), and one cut
off from the broker is not stalled but disconnected (``/readyz`` says so): neither is
reported, so an outage does not become a restart loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter

log = structlog.get_logger("docket.watchdog")

#: How often the consumers are looked at.
CHECK_INTERVAL_S = 5.0


@dataclass(frozen=True)
class PartitionProgress:
    """Where a consumer stands on one partition it holds."""

    topic: str
    partition: int
    #: The next offset it will hand to the handler (None before the first fetch).
    position: int | None
    #: The partition's end as of the consumer's last fetch (None before one).
    highwater: int | None
    #: Records fetched and waiting for the handler.
    buffered: bool

    @property
    def lag(self) -> int:
        if self.position is None or self.highwater is None:
            return 0
        return max(self.highwater - self.position, 0)


class WatchedConsumer(Protocol):
    """What the watchdog reads of one consumer."""

    @property
    def name(self) -> str: ...

    def fetch_failure(self) -> str | None:
        """Why the consumer's fetch task is no longer running, or None while it runs."""
        ...

    def progress(self) -> list[PartitionProgress]: ...


class AiokafkaConsumer:
    """A FastStream subscriber's aiokafka consumer, read through aiokafka's internals
    (its ``Fetcher`` task, subscription state and fetch buffer; aiokafka has no public
    API for them). Anything missing reads as "nothing to report"."""

    def __init__(self, name: str, consumer: object) -> None:
        self.name = name
        self._consumer = consumer

    def fetch_failure(self) -> str | None:
        fetcher = getattr(self._consumer, "_fetcher", None)
        task = getattr(fetcher, "error_future", None)
        if fetcher is None or getattr(fetcher, "_closed", False):
            return None  # not started yet, or stopping
        if not isinstance(task, asyncio.Future) or not task.done():
            return None
        if task.cancelled():
            return "fetch task cancelled"
        error = task.exception()
        cause = error.__cause__ if error is not None and error.__cause__ else error
        return f"fetch task ended ({type(cause).__name__})" if cause else "fetch task ended"

    def progress(self) -> list[PartitionProgress]:
        subscription = getattr(getattr(self._consumer, "_subscription", None), "subscription", None)
        assignment = getattr(subscription, "assignment", None)
        if assignment is None or not getattr(assignment, "active", False):
            return []
        records = getattr(getattr(self._consumer, "_fetcher", None), "_records", {})
        found = []
        for tp in sorted(assignment.tps):
            state = assignment.state_value(tp)
            valid = state is not None and state.has_valid_position
            found.append(
                PartitionProgress(
                    topic=tp.topic,
                    partition=tp.partition,
                    position=state.position if valid else None,
                    highwater=state.highwater if state is not None else None,
                    buffered=tp in records,
                )
            )
        return found


@dataclass
class _Seen:
    position: int | None
    since: float


class ConsumerWatchdog:
    """Looks at ``consumers()`` every :data:`CHECK_INTERVAL_S` (``run``); ``problems``
    names each consumer found dead or stalled at the last look."""

    def __init__(
        self,
        consumers: Callable[[], Iterable[WatchedConsumer]],
        broker_answers: Callable[[], Awaitable[bool]],
        stall_s: float,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumers = consumers
        self._broker_answers = broker_answers
        self._stall_s = stall_s
        self._clock = clock
        self._seen: dict[tuple[str, str, int], _Seen] = {}
        self._problems: list[str] = []
        self._trips = Counter(
            "docket_consumer_watchdog_trips",
            "Times the watchdog found a consumer dead (fetch task ended) or stalled",
            ["reason"],
            registry=registry,
        )

    @property
    def problems(self) -> list[str]:
        return list(self._problems)

    async def check(self) -> list[str]:
        now = self._clock()
        problems: list[str] = []
        stalled: list[str] = []
        current: set[tuple[str, str, int]] = set()
        for consumer in self._consumers():
            failure = consumer.fetch_failure()
            if failure is not None:
                problems.append(f"consumer {consumer.name}: {failure}")
                continue
            for part in consumer.progress():
                key = (consumer.name, part.topic, part.partition)
                current.add(key)
                seen = self._seen.get(key)
                if seen is None or seen.position != part.position or part.buffered or not part.lag:
                    self._seen[key] = _Seen(part.position, now)
                elif now - seen.since >= self._stall_s:
                    stalled.append(
                        f"consumer {consumer.name}: {part.topic}[{part.partition}] has not"
                        f" moved for {now - seen.since:.0f}s with {part.lag} records to read"
                    )
        for key in set(self._seen) - current:
            del self._seen[key]
        if stalled and await self._broker_answers():
            problems.extend(stalled)
        for problem in problems:
            if problem not in self._problems:
                reason = "dead" if "fetch task" in problem else "stalled"
                self._trips.labels(reason).inc()
                log.error("consumer_not_progressing", problem=problem)
        self._problems = problems
        return problems

    async def run(self, interval_s: float = CHECK_INTERVAL_S) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check()
            except Exception:  # a look that failed is not a verdict; look again
                log.exception("consumer_watchdog_check_failed")
