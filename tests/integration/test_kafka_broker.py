"""The local Kafka broker, exercised with aiokafka the way the services use it."""

from __future__ import annotations

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
from shared.topics import PARTITIONS

pytestmark = pytest.mark.integration

Event = tuple[bytes, bytes]


async def new_topic(bootstrap: str, partitions: int) -> str:
    """A fresh topic of this test alone (topics are not auto-created)."""
    topic = f"test.kafka-broker.{uuid.uuid4().hex[:12]}"
    await ensure_topics(bootstrap, {topic: partitions})
    return topic


async def produce(bootstrap: str, topic: str, events: list[Event]) -> None:
    """Send ``(key, value)`` events in order with the services' producer settings."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in events:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def group_consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    """A consumer in ``group`` that commits by hand and starts from the earliest offset."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
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


async def test_project_topics_exist_with_their_partition_counts(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(PARTITIONS))
    finally:
        await admin.close()
    counts = {topic["topic"]: len(topic["partitions"]) for topic in described}
    assert counts == PARTITIONS


async def test_idempotent_produce_and_consume_with_manual_commit(kafka_bootstrap: str) -> None:
    topic = await new_topic(kafka_bootstrap, partitions=3)
    events = [(f"request-{i % 4}".encode(), f"event-{i}".encode()) for i in range(40)]
    await produce(kafka_bootstrap, topic, events)

    consumer = group_consumer(kafka_bootstrap, topic, group=f"group-{uuid.uuid4().hex}")
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


async def test_committed_offset_survives_a_consumer_restart(kafka_bootstrap: str) -> None:
    topic = await new_topic(kafka_bootstrap, partitions=1)
    group = f"group-{uuid.uuid4().hex}"
    partition = TopicPartition(topic, 0)
    await produce(kafka_bootstrap, topic, [(b"request", f"event-{i}".encode()) for i in range(10)])

    first = group_consumer(kafka_bootstrap, topic, group)
    await first.start()
    try:
        await read(first, 4)
        await first.commit({partition: 4})
    finally:
        await first.stop()

    second = group_consumer(kafka_bootstrap, topic, group)
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
    bootstrap = broker.bootstrap_servers
    topic = await new_topic(bootstrap, partitions=1)
    group = f"group-{uuid.uuid4().hex}"
    await produce(bootstrap, topic, [(b"request", f"before-{i}".encode()) for i in range(5)])
    consumer = group_consumer(bootstrap, topic, group)
    await consumer.start()
    try:
        await read(consumer, 2)
        await consumer.commit({TopicPartition(topic, 0): 2})
    finally:
        await consumer.stop()

    await broker.stop()
    assert not broker.running
    await broker.start()
    assert broker.bootstrap_servers == bootstrap

    await produce(bootstrap, topic, [(b"request", b"after-0")])
    consumer = group_consumer(bootstrap, topic, group)
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
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BOOTSTRAP_ENV, kafka_bootstrap)
    bootstrap, broker = await ensure_kafka(tmp_path)
    assert (bootstrap, broker) == (kafka_bootstrap, None)


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
