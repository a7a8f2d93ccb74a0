"""Issue #20: the consumer watchdog (shared/consumer_watchdog.py) on a real broker
reached through Toxiproxy.

A service frame (``shared.service``) with one ``subscribe_events`` consumer runs in this
process on a broker of its own that advertises the proxy as its client listener, so
every byte between the consumer and Kafka crosses the proxy. Progress is durable: the
group's committed offsets against the topic's end.

1. Its fetch task is made to end (as aiokafka 0.14's does on a half-open link,
   ``Unexpected error in fetcher routine``): records stay unread, ``/healthz`` answers
   503 naming the dead fetch task, and a new instance (what the supervisor starts)
   reads them all.
2. A half-open link (``one_way``: the consumer is heard, hears nothing) for longer than
   the request timeout, three times: afterwards the consumer either reads everything
   or says on ``/healthz`` that it cannot; never stuck while it calls itself alive.

Part of ``make chaos`` (``-m chaos_full``); ``-s`` prints a ``WATCHDOG SUMMARY`` line."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from deploy.kafka.launcher import KafkaBroker, secure
from deploy.kafka.security import KafkaAccess
from shared import topics
from shared.events import Envelope, EventData
from shared.kafka import EventPublisher, RecordInfo, subscribe_events
from shared.service import ServiceRuntime, create_http_app, create_runtime
from shared.settings import CommonSettings
from tests.chaos.network import Link, Toxiproxy, inject

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.chaos_full]

TOPIC = topics.REQUEST_RECEIVED
STALL_S = 20.0
#: Longer than the consumer's request timeout (15 s), as in test_network.py.
HALF_OPEN_S = 25.0


@dataclass
class Proxied:
    access: KafkaAccess
    link: Link


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def proxied() -> AsyncIterator[Proxied]:
    folder = Path(tempfile.mkdtemp(prefix="docket-watchdog-"))
    proxy = Toxiproxy(folder)
    await proxy.start()
    broker = KafkaBroker(folder / "kafka")
    link = await proxy.link("kafka", broker.bootstrap_servers)
    broker.advertised_port = int(link.listen.rpartition(":")[2])
    try:
        await broker.start(ready_within=300)
        await secure(broker.access)
        yield Proxied(broker.security.access(link.listen), link)
    finally:
        await broker.stop()
        await proxy.stop()


@dataclass
class Running:
    client: httpx.AsyncClient  # of the instance's HTTP app (/healthz)
    runtime: ServiceRuntime


@asynccontextmanager
async def service(access: KafkaAccess, group: str) -> AsyncIterator[Running]:
    """One instance: the service frame with a classifier consumer on ``TOPIC``."""
    settings = CommonSettings(
        **access.service_settings("classifier"),
        consumer_stall_s=STALL_S,
        development_mode=True,
    )
    runtime = create_runtime("classifier", settings)

    async def handled(_envelope: Envelope, _data: EventData, _info: RecordInfo) -> None:
        return None

    subscribe_events(
        runtime.broker,
        topic_names=(TOPIC,),
        group_id=group,
        consumer="classifier",
        handler=handled,
        publisher=EventPublisher(runtime.broker, "/test/watchdog"),
        dead_letters=runtime.dead_letters,
    )
    app: FastAPI = create_http_app(runtime, "watchdog test")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Running(client, runtime)


async def produce(access: KafkaAccess, count: int) -> None:
    """Records no consumer can read: each is dead-lettered and committed, which is
    all the progress this test measures."""
    producer = AIOKafkaProducer(**access.client_options(), acks="all")
    await producer.start()
    try:
        for number in range(count):
            await producer.send_and_wait(TOPIC, b"not an event", key=f"wd-{number}".encode())
    finally:
        await producer.stop()


async def unread(access: KafkaAccess, group: str) -> int:
    admin = AIOKafkaAdminClient(**access.client_options())
    consumer = AIOKafkaConsumer(**access.client_options(), group_id=None)
    await admin.start()
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in range(topics.PARTITIONS[TOPIC])]
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets(partitions)
        return sum(
            end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
        )
    finally:
        await consumer.stop()
        await admin.close()


async def settles(
    access: KafkaAccess, group: str, client: httpx.AsyncClient, within_s: float
) -> tuple[int, dict[str, Any] | None]:
    """Waits until everything is read (unread 0, returns (0, None)) or ``/healthz``
    fails (returns (unread, its problem document)); raises when neither happens."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    left = -1
    while loop.time() < deadline:
        left = await unread(access, group)
        if left == 0:
            return 0, None
        health = await client.get("/healthz")
        if health.status_code == 503:
            return left, health.json()
        await asyncio.sleep(1.0)
    raise AssertionError(f"{left} records unread for {within_s:.0f}s and /healthz still 200")


async def test_a_dead_fetch_task_fails_healthz_and_a_new_instance_reads_on(
    proxied: Proxied,
) -> None:
    access = proxied.access
    group = f"docket-classifier-watchdog-{secrets.token_hex(3)}"
    async with service(access, group) as instance:
        client = instance.client
        await produce(access, 12)
        assert await settles(access, group, client, 120) == (0, None)
        assert (await client.get("/healthz")).status_code == 200
        # The fetch task ends as aiokafka's does after its "Unexpected error".
        [subscriber] = instance.runtime.broker.subscribers
        subscriber.consumer._fetcher._fetch_task.cancel()  # type: ignore[attr-defined]
        await produce(access, 12)
        left, problem = await settles(access, group, client, 60)
    assert left == 12
    assert problem is not None
    assert "fetch task ended" in problem["detail"], problem
    async with service(access, group) as instance:  # what the supervisor starts instead
        assert await settles(access, group, instance.client, 120) == (0, None)
        assert (await instance.client.get("/healthz")).status_code == 200


async def test_after_a_half_open_link_the_consumer_reads_on_or_says_it_cannot(
    proxied: Proxied,
) -> None:
    access = proxied.access
    group = f"docket-classifier-watchdog-{secrets.token_hex(3)}"
    outcomes: list[str] = []
    stack = AsyncExitStack()
    try:
        client = (await stack.enter_async_context(service(access, group))).client
        await produce(access, 6)
        assert await settles(access, group, client, 120) == (0, None)
        for _ in range(3):
            await inject([proxied.link], "one_way", HALF_OPEN_S)
            await produce(access, 6)
            left, problem = await settles(access, group, client, STALL_S + 90)
            if problem is None:
                outcomes.append("read on")
                continue
            outcomes.append(f"healthz 503 with {left} unread ({problem['detail'][:80]}), replaced")
            await stack.aclose()  # the supervisor replaces the instance
            stack = AsyncExitStack()
            client = (await stack.enter_async_context(service(access, group))).client
            assert await settles(access, group, client, 120) == (0, None)
    finally:
        await stack.aclose()
    print(f"\nWATCHDOG SUMMARY half_open_s={HALF_OPEN_S:.0f} outcomes={outcomes}", flush=True)
    assert len(outcomes) == 3
