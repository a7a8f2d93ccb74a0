"""The amendment barrier against the real broker: notices wait until the notifier's
group has committed past every amendment Kafka acknowledged, and a barrier that cannot
see the amended topic's partitions says no rather than "caught up"."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from deploy.kafka.security import KafkaAccess
from services.notifier.amendment_barrier import BARRIER_TOPICS, AmendmentBarrier
from shared import topics
from shared.kafka_acl import principal_of

pytestmark = pytest.mark.integration


def notifier_barrier(kafka: KafkaAccess, group: str, wait_s: float) -> AmendmentBarrier:
    """The barrier as the notifier runs it: as the notifier's principal, whose ACLs
    must allow the offsets it reads."""
    security = kafka.security(principal_of("notifier"))
    return AmendmentBarrier(kafka.bootstrap_servers, group, security, wait_s=wait_s)


async def _amend(
    kafka: KafkaAccess, key: str, topic: str = topics.REQUEST_AMENDED
) -> tuple[int, int]:
    """Produce one record to the amended topic (or ``topic``); (partition, offset) Kafka
    acknowledged."""
    producer = AIOKafkaProducer(**kafka.client_options(), acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"{}", key=key.encode())
    finally:
        await producer.stop()
    return sent.partition, sent.offset


async def _commit_to_end(kafka: KafkaAccess, group: str) -> None:
    """Commit the group at the end of every partition of the topics the barrier reads."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        wanted = [
            TopicPartition(topic, p)
            for topic in BARRIER_TOPICS
            for p in range(topics.PARTITIONS[topic])
        ]
        consumer.assign(wanted)
        ends = await consumer.end_offsets(wanted)
        await consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
    finally:
        await consumer.stop()


async def test_notices_wait_for_an_unread_amendment(kafka_access: KafkaAccess) -> None:
    group = f"docket-notifier-barrier-{secrets.token_hex(4)}"
    await _commit_to_end(kafka_access, group)
    barrier = notifier_barrier(kafka_access, group, wait_s=1.0)
    await barrier.start()  # a fresh barrier: its clients have no metadata cached yet
    try:
        before = datetime.now(UTC)
        assert await barrier.caught_up() is not None  # nothing unread

        await _amend(kafka_access, f"request-{secrets.token_hex(4)}")
        assert await barrier.caught_up() is None  # acknowledged, not yet committed

        await _commit_to_end(kafka_access, group)
        read_up_to = await barrier.caught_up()
        assert read_up_to is not None
        assert read_up_to >= before
    finally:
        await barrier.stop()


async def test_notices_wait_for_an_unread_decision_of_counsel(kafka_access: KafkaAccess) -> None:
    """A notice withheld for good, or a requester found a fraud, forbids a notice like a
    gag: none is released while such a decision is acknowledged and unread."""
    group = f"docket-notifier-barrier-{secrets.token_hex(4)}"
    await _commit_to_end(kafka_access, group)
    barrier = notifier_barrier(kafka_access, group, wait_s=1.0)
    await barrier.start()
    try:
        assert await barrier.caught_up() is not None
        await _amend(kafka_access, f"request-{secrets.token_hex(4)}", topics.REQUEST_COUNSEL)
        assert await barrier.caught_up() is None
        await _commit_to_end(kafka_access, group)
        assert await barrier.caught_up() is not None
    finally:
        await barrier.stop()


async def test_a_new_barrier_sees_an_unread_amendment_at_once(kafka_access: KafkaAccess) -> None:
    """The first question a just-started notifier asks must already count every
    partition: an empty partition list would read as "nothing to wait for"."""
    group = f"docket-notifier-barrier-{secrets.token_hex(4)}"
    await _commit_to_end(kafka_access, group)
    await _amend(kafka_access, f"request-{secrets.token_hex(4)}")
    barrier = notifier_barrier(kafka_access, group, wait_s=0.5)
    await barrier.start()
    try:
        assert await barrier.caught_up() is None
    finally:
        await barrier.stop()
