"""The local Kafka broker, exercised with aiokafka the way the services use it."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.kafka.launcher import (
    BOOTSTRAP_ENV,
    BrokerError,
    KafkaBroker,
    ensure_kafka,
    ensure_topics,
)
from deploy.kafka.security import KafkaAccess
from shared.topics import PARTITIONS

pytestmark = pytest.mark.integration

Event = tuple[bytes, bytes]


async def new_topic(kafka: KafkaAccess, partitions: int) -> str:
    """A fresh topic of this test alone (topics are not auto-created)."""
    topic = f"test.kafka-broker.{uuid.uuid4().hex[:12]}"
    await ensure_topics(kafka, {topic: partitions})
    return topic


async def produce(kafka: KafkaAccess, topic: str, events: list[Event]) -> None:
    """Send ``(key, value)`` events in order with the services' producer settings."""
    producer = AIOKafkaProducer(**kafka.client_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in events:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def group_consumer(kafka: KafkaAccess, topic: str, group: str) -> AIOKafkaConsumer:
    """A consumer in ``group`` that commits by hand and starts from the earliest offset."""
    return AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def read(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Exactly ``count`` records (fails after 30 s without them)."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    while len(records) < count:
        batches = await consumer.getmany(timeout_ms=30_000, max_records=count - len(records))
        assert batches, f"got {len(records)} of {count} records within 30 s"
        for batch in batches.values():
            records.extend(batch)
    return records


async def test_project_topics_exist_with_their_partition_counts(kafka_access: KafkaAccess) -> None:
    admin = AIOKafkaAdminClient(**kafka_access.client_options())
    await admin.start()
    try:
        described = await admin.describe_topics(list(PARTITIONS))
    finally:
        await admin.close()
    counts = {topic["topic"]: len(topic["partitions"]) for topic in described}
    assert counts == PARTITIONS


async def test_idempotent_produce_and_consume_with_manual_commit(kafka_access: KafkaAccess) -> None:
    topic = await new_topic(kafka_access, partitions=3)
    events = [(f"request-{i % 4}".encode(), f"event-{i}".encode()) for i in range(40)]
    await produce(kafka_access, topic, events)

    consumer = group_consumer(kafka_access, topic, group=f"group-{uuid.uuid4().hex}")
    await consumer.start()
    try:
        records = await read(consumer, len(events))
        await consumer.commit()
        committed = [await consumer.committed(partition) for partition in consumer.assignment()]
    finally:
        await consumer.stop()

    for key in {key for key, _ in events}:
        sent = [value for k, value in events if k == key]
        assert [record.value for record in records if record.key == key] == sent
    assert sum(offset or 0 for offset in committed) == len(events)


async def test_committed_offset_survives_a_consumer_restart(kafka_access: KafkaAccess) -> None:
    topic = await new_topic(kafka_access, partitions=1)
    group = f"group-{uuid.uuid4().hex}"
    partition = TopicPartition(topic, 0)
    await produce(kafka_access, topic, [(b"request", f"event-{i}".encode()) for i in range(10)])

    first = group_consumer(kafka_access, topic, group)
    await first.start()
    try:
        await read(first, 4)
        await first.commit({partition: 4})
    finally:
        await first.stop()

    second = group_consumer(kafka_access, topic, group)
    await second.start()
    try:
        records = await read(second, 6)
    finally:
        await second.stop()
    assert [record.offset for record in records] == list(range(4, 10))
    assert records[0].value == b"event-4"


async def test_broker_restart_keeps_records_and_committed_offsets(
    kafka_broker_handle: KafkaBroker,
) -> None:
    broker = kafka_broker_handle
    kafka = broker.access
    topic = await new_topic(kafka, partitions=1)
    group = f"group-{uuid.uuid4().hex}"
    await produce(kafka, topic, [(b"request", f"before-{i}".encode()) for i in range(5)])
    consumer = group_consumer(kafka, topic, group)
    await consumer.start()
    try:
        await read(consumer, 2)
        await consumer.commit({TopicPartition(topic, 0): 2})
    finally:
        await consumer.stop()

    await broker.stop()
    assert not broker.running
    await broker.start()
    assert broker.access == kafka  # same address, same users

    await produce(kafka, topic, [(b"request", b"after-0")])
    consumer = group_consumer(kafka, topic, group)
    await consumer.start()
    try:
        records = await read(consumer, 4)
    finally:
        await consumer.stop()
    assert [record.value for record in records] == [
        b"before-2",
        b"before-3",
        b"before-4",
        b"after-0",
    ]


async def test_ensure_kafka_uses_the_configured_cluster_without_starting_one(
    kafka_access: KafkaAccess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An external cluster: its address from ``KAFKA_BOOTSTRAP_SERVERS``, how to connect
    from ``DOCKET_KAFKA_*`` (here the admin's SCRAM user over TLS)."""
    if kafka_access.external:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS is set already")
    monkeypatch.setenv(BOOTSTRAP_ENV, kafka_access.bootstrap_servers)
    for name, value in kafka_access.service_env("intake").items():
        monkeypatch.setenv(name, value)
    admin = kafka_access.security()
    assert admin.password is not None
    monkeypatch.setenv("DOCKET_KAFKA_USERNAME", str(admin.username))
    monkeypatch.setenv("DOCKET_KAFKA_PASSWORD", admin.password.get_secret_value())
    access, broker = await ensure_kafka(tmp_path)
    assert broker is None
    assert access == KafkaAccess(kafka_access.bootstrap_servers)
    assert access.security() == admin
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir())), "nothing was started"


async def test_a_broker_that_cannot_start_fails_fast_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        broker = KafkaBroker(tmp_path, port=squatter.getsockname()[1])
        with pytest.raises(
            BrokerError, match=r"(?s)exited with code .*last lines of .*broker\.log"
        ):
            await broker.start(ready_within=60)
    assert not broker.running
