"""The consumer watchdog (shared/consumer_watchdog.py) on fake consumers and a fake clock,
and its reading of aiokafka's fetch task."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from shared.consumer_watchdog import AiokafkaConsumer, ConsumerWatchdog, PartitionProgress


@dataclass
class FakeConsumer:
    name: str = "docket-notifier"
    failure: str | None = None
    parts: list[PartitionProgress] = field(default_factory=list)

    def fetch_failure(self) -> str | None:
        return self.failure

    def progress(self) -> list[PartitionProgress]:
        return self.parts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def part(position: int | None, highwater: int | None, buffered: bool = False) -> PartitionProgress:
    return PartitionProgress("docket.request.classified", 3, position, highwater, buffered)


def watchdog(
    consumer: FakeConsumer, clock: Clock, broker_up: list[bool] | None = None
) -> tuple[ConsumerWatchdog, CollectorRegistry]:
    up = broker_up if broker_up is not None else [True]

    async def answers() -> bool:
        return up[0]

    registry = CollectorRegistry()
    return ConsumerWatchdog(lambda: [consumer], answers, 120.0, registry, clock), registry


def trips(registry: CollectorRegistry, reason: str) -> float:
    return (
        registry.get_sample_value("docket_consumer_watchdog_trips_total", {"reason": reason}) or 0
    )


async def test_a_dead_fetch_task_is_reported_at_once_and_counted_once() -> None:
    consumer = FakeConsumer(failure="fetch task ended (KeyError)")
    dog, registry = watchdog(consumer, Clock())
    assert await dog.check() == ["consumer docket-notifier: fetch task ended (KeyError)"]
    assert dog.problems == ["consumer docket-notifier: fetch task ended (KeyError)"]
    await dog.check()
    assert trips(registry, "dead") == 1


async def test_a_partition_with_lag_that_does_not_move_is_stalled_after_stall_s() -> None:
    clock = Clock()
    consumer = FakeConsumer(parts=[part(10, 25)])
    dog, registry = watchdog(consumer, clock)
    assert await dog.check() == []
    clock.now += 119
    assert await dog.check() == []
    clock.now += 2
    [problem] = await dog.check()
    assert "docket.request.classified[3] has not moved for 121s with 15 records" in problem
    assert trips(registry, "stalled") == 1
    # It moves again: healthy at the next look.
    consumer.parts = [part(11, 25)]
    assert await dog.check() == []
    assert dog.problems == []


async def test_moving_caught_up_or_busy_partitions_are_not_stalled() -> None:
    clock = Clock()
    consumer = FakeConsumer(parts=[part(10, 10)])  # no lag
    dog, _ = watchdog(consumer, clock)
    await dog.check()
    clock.now += 500
    assert await dog.check() == []
    # Records buffered for a busy (or re-reading) handler: not a fetch stall.
    consumer.parts = [part(10, 40, buffered=True)]
    await dog.check()
    clock.now += 500
    assert await dog.check() == []
    # Moving slowly but moving.
    for position in range(11, 20):
        consumer.parts = [part(position, 40)]
        clock.now += 100
        assert await dog.check() == []
    # No position yet (awaiting its first fetch or reset): nothing to judge.
    consumer.parts = [part(None, None)]
    clock.now += 500
    assert await dog.check() == []


async def test_no_stall_is_reported_while_the_broker_does_not_answer() -> None:
    """Cut off from the broker it is disconnected (/readyz), not wedged: restarting it
    would not help and an outage must not become a restart loop."""
    clock = Clock()
    broker_up = [False]
    consumer = FakeConsumer(parts=[part(10, 25)])
    dog, _ = watchdog(consumer, clock, broker_up)
    await dog.check()
    clock.now += 300
    assert await dog.check() == []
    broker_up[0] = True
    assert len(await dog.check()) == 1


async def test_a_reassigned_partition_starts_its_clock_again() -> None:
    clock = Clock()
    consumer = FakeConsumer(parts=[part(10, 25)])
    dog, _ = watchdog(consumer, clock)
    await dog.check()
    clock.now += 100
    consumer.parts = []  # revoked by a rebalance
    await dog.check()
    consumer.parts = [part(10, 25)]  # given back
    clock.now += 100
    assert await dog.check() == []


async def test_run_keeps_looking_after_a_failed_look() -> None:
    calls = 0

    def consumers() -> list[FakeConsumer]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("subscriber list changed")
        return [FakeConsumer(failure="fetch task ended")]

    async def answers() -> bool:
        return True

    dog = ConsumerWatchdog(consumers, answers, 120.0, CollectorRegistry())
    task = asyncio.create_task(dog.run(interval_s=0.01))
    for _ in range(200):
        if dog.problems:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert dog.problems == ["consumer docket-notifier: fetch task ended"]


async def test_aiokafka_reading_of_the_fetch_task() -> None:
    async def crashes() -> None:
        try:
            raise KeyError((1, "ConnectionGroup.DEFAULT"))
        except KeyError as error:
            raise KafkaError("Unexpected error during data retrieval") from error

    async def runs() -> None:
        await asyncio.sleep(60)

    crashed = asyncio.create_task(crashes())
    running = asyncio.create_task(runs())
    await asyncio.sleep(0)
    dead = AiokafkaConsumer("g", SimpleNamespace(_fetcher=SimpleNamespace(error_future=crashed)))
    alive = AiokafkaConsumer("g", SimpleNamespace(_fetcher=SimpleNamespace(error_future=running)))
    closing = AiokafkaConsumer(
        "g", SimpleNamespace(_fetcher=SimpleNamespace(error_future=crashed, _closed=True))
    )
    assert dead.fetch_failure() == "fetch task ended (KeyError)"
    assert alive.fetch_failure() is None
    assert closing.fetch_failure() is None  # stopping on purpose
    assert AiokafkaConsumer("g", SimpleNamespace(_fetcher=None)).fetch_failure() is None
    assert alive.progress() == []  # no subscription state: nothing to judge
    running.cancel()
