"""Which stage limits the pipeline: each consumer group's processing rate while it has a
backlog, sampled from its committed offsets during a saturation run.

A stage that keeps a backlog while its rate stays flat is running at its capacity; the
lowest capacity, in requests per second (records per second divided by the records the
stage reads per request), is the pipeline's ceiling on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from deploy.kafka.security import KafkaAccess


@dataclass
class Sample:
    at: float
    committed: int
    end: int


@dataclass
class StageTrace:
    group: str
    samples: list[Sample] = field(default_factory=list)

    def summary(self, requests: int, window_s: float) -> dict[str, float]:
        """Records/s over the busiest ``window_s`` while a backlog existed, records read
        per request, and the requests/s that rate amounts to."""
        if len(self.samples) < 2:
            return {}
        first, last = self.samples[0], self.samples[-1]
        records = last.committed - first.committed
        best = 0.0
        for i, start in enumerate(self.samples):
            for stop in self.samples[i + 1 :]:
                if stop.at - start.at >= window_s:
                    if start.end - start.committed > 0:  # busy: a backlog at the start
                        best = max(best, (stop.committed - start.committed) / (stop.at - start.at))
                    break
        per_request = records / requests if requests else 0.0
        return {
            "records": float(records),
            "records_per_request": per_request,
            "busy_records_per_s": best,
            "capacity_requests_per_s": best / per_request if per_request else 0.0,
            "peak_backlog": float(max(s.end - s.committed for s in self.samples)),
        }


async def _positions(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str
) -> tuple[int, int]:
    """(sum of committed offsets, sum of end offsets) over the group's partitions."""
    committed = await admin.list_consumer_group_offsets(group)
    partitions = [tp for tp, meta in committed.items() if meta.offset >= 0]
    if not partitions:
        return 0, 0
    ends = await consumer.end_offsets(partitions)
    return (
        sum(committed[tp].offset for tp in partitions),
        sum(ends.get(tp, 0) for tp in partitions),
    )


@contextlib.asynccontextmanager
async def _offset_clients(
    kafka: KafkaAccess,
) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]:
    """An admin client (committed offsets) and a group-less consumer (end offsets), as
    the admin principal."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=None)
    await admin.start()
    await consumer.start()
    try:
        yield admin, consumer
    finally:
        await consumer.stop()
        await admin.close()


@contextlib.asynccontextmanager
async def sampled(
    kafka: KafkaAccess, groups: dict[str, str], interval_s: float = 0.5
) -> AsyncIterator[dict[str, StageTrace]]:
    """Sample every group's committed and end offsets until the block exits."""
    traces = {label: StageTrace(group) for label, group in groups.items()}
    async with _offset_clients(kafka) as (admin, consumer):

        async def sample_forever() -> None:
            while True:
                for trace in traces.values():
                    with contextlib.suppress(Exception):  # a group not there yet
                        committed, end = await _positions(admin, consumer, trace.group)
                        trace.samples.append(Sample(time.perf_counter(), committed, end))
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(sample_forever())
        try:
            yield traces
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_until_idle(
    kafka: KafkaAccess, groups: dict[str, str], quiet_s: float = 3.0, timeout_s: float = 300.0
) -> float:
    """Wait until no group has a backlog for ``quiet_s`` in a row (the notices and
    audit copies of the previous phase are done), so one phase's tail does not load the
    next; returns the seconds waited."""
    began = time.perf_counter()
    quiet_since: float | None = None
    async with _offset_clients(kafka) as (admin, consumer):
        while time.perf_counter() - began < timeout_s:
            backlog = 0
            for group in groups.values():
                committed, end = await _positions(admin, consumer, group)
                backlog += end - committed
            now = time.perf_counter()
            if backlog > 0:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                break
            await asyncio.sleep(0.5)
    return time.perf_counter() - began


def summarise(
    traces: dict[str, StageTrace], requests: int, window_s: float = 2.0
) -> dict[str, Any]:
    return {label: trace.summary(requests, window_s) for label, trace in traces.items()}
