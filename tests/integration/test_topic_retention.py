"""Every project topic on the real broker has the retention docs/data-protection.md
documents (``shared.topics.RETENTION_MS``), read back through the admin client; a
topic made before (kept for ever) gets it when the topics are ensured again."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deploy.kafka.launcher import ensure_topics
from deploy.kafka.security import KafkaAccess
from shared import topics
from shared.topics import ALL_TOPICS, DAY_MS, RETENTION_MS, retention_configs

pytestmark = pytest.mark.integration

RETENTION_KEYS = ("retention.ms", "retention.bytes", "cleanup.policy", "segment.ms")


async def topic_configs(kafka: KafkaAccess, names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Each topic's effective config (name -> value), as the broker reports it."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        responses: list[Any] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for code, message, _type, name, entries in response.resources:
            assert code == 0, f"{name}: {message}"
            found[name] = {entry[0]: entry[1] for entry in entries}
    return found


def test_every_topic_has_a_documented_retention() -> None:
    assert set(RETENTION_MS) == set(ALL_TOPICS)
    bounded = {name for name, ms in RETENTION_MS.items() if ms > 0}
    # Nothing but the ledger (audit's own copy, replayed into an empty database) is kept
    # by Kafka for ever, and the topics carrying submissions are bounded.
    assert set(ALL_TOPICS) - bounded == {topics.AUDIT_LEDGER}
    assert {topics.REQUEST_RECEIVED, topics.REQUEST_CLASSIFIED, topics.DEADLETTER} <= bounded
    assert all(RETENTION_MS[name] <= 30 * DAY_MS for name in bounded)


async def test_the_broker_keeps_each_topic_as_documented(kafka_access: KafkaAccess) -> None:
    configs = await topic_configs(kafka_access, ALL_TOPICS)
    for name in ALL_TOPICS:
        wanted = retention_configs(name)
        actual = {key: configs[name][key] for key in wanted}
        assert actual == wanted, name
        assert configs[name]["retention.ms"] == str(RETENTION_MS[name])
    assert configs[topics.REQUEST_RECEIVED]["retention.ms"] == str(14 * DAY_MS)
    assert configs[topics.REQUEST_RECEIVED]["segment.ms"] == str(DAY_MS)
    assert configs[topics.AUDIT_LEDGER]["retention.ms"] == "-1"


async def test_a_topic_kept_for_ever_before_gets_its_retention(kafka_access: KafkaAccess) -> None:
    name = topics.REQUEST_CLASSIFIED_SHADOW
    admin = AIOKafkaAdminClient(**kafka_access.client_options())
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": "-1"})]
        )
    finally:
        await admin.close()
    before = await topic_configs(kafka_access, (name,))
    assert before[name]["retention.ms"] == "-1"

    await ensure_topics(kafka_access)

    after = await topic_configs(kafka_access, (name,))
    assert {key: after[name][key] for key in RETENTION_KEYS} == retention_configs(name)
