"""Docket's topics read by someone else's tool: the official CloudEvents SDK for Python
(``cloudevents``, its Kafka binding) consumes every event topic of the running system
and parses every event type, and events written by that SDK, in binary mode and in
structured mode with extension attributes and a ``charset``, go through the pipeline
instead of the dead-letter topic.

What is on the topics: the example requests submitted over HTTP (then amended and
decided), every checked-in example event of every version (``docs/events/examples``)
published as it is but for fresh ids, the SDK's own two events, and one poison record.
``docket.audit.ledger`` is audit's internal copy (ledger entries, not events) and is
not read here.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared import contract, topics
from shared.events import (
    CONTENT_TYPE,
    EVENT_CLASSES,
    READABLE_TYPES,
    DeadLettered,
    RequestReceived,
)
from tests.fixtures.system import EXAMPLES, DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

EVENT_TOPICS = sorted({cls.TOPIC for cls in EVENT_CLASSES})
#: The request id every checked-in example event carries.
EXAMPLE_REQUEST_ID = "0f6a3c1e-8d4b-4f5a-9c2e-7b1d5e3a9f10"
FORMAT = JSONFormat()


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST until accepted: a 503 (Kafka slow to acknowledge, on a loaded machine) is
    retried as a client would, after ``Retry-After``; the writes are idempotent."""
    for _ in range(5):
        response = await client.post(path, json=body)
        if response.status_code != 503:
            break
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def _submit_examples(system: DocketSystem) -> list[str]:
    """Every example request over HTTP; the second one amended, the third decided."""
    ids: list[str] = []
    async with httpx.AsyncClient(
        base_url=system.intake_url, headers=system.auth, timeout=30
    ) as client:
        for path in sorted((EXAMPLES / "requests").glob("*.json")):
            accepted = await _post(client, "/v1/requests", json.loads(path.read_text()))
            ids.append(accepted["request_id"])
        withdrawal = {"withdrawn": True, "effective_at": datetime.now(UTC).isoformat()}
        await _post(client, f"/v1/requests/{ids[1]}/amendments", withdrawal)
        await _post(client, f"/v1/requests/{ids[2]}/decision", {"outcome": "no_data"})
    return ids


def _example_records() -> tuple[list[tuple[str, str, bytes]], set[str], set[str]]:
    """(topic, key, value) of every checked-in example, each version's under one fresh
    request id, every one under a fresh event id; and those request and event ids."""
    request_ids: dict[str, str] = {}
    event_ids: set[str] = set()
    records: list[tuple[str, str, bytes]] = []
    # RequestReceived first: the rest of each version's story follows it
    paths = sorted(
        contract.EXAMPLES_DIR.glob("*.json"), key=lambda p: "RequestReceived" not in p.name
    )
    for path in paths:
        version = path.stem.rpartition(".")[2]
        request_id = request_ids.setdefault(version, str(uuid.uuid4()))
        document = json.loads(path.read_text().replace(EXAMPLE_REQUEST_ID, request_id))
        document["id"] = str(uuid.uuid4())
        event_ids.add(document["id"])
        cls, _ = READABLE_TYPES[document["type"]]
        records.append((cls.TOPIC, request_id, json.dumps(document).encode()))
    return records, set(request_ids.values()), event_ids


def _sdk_received(request_id: str, **extensions: Any) -> CloudEvent:
    """A RequestReceived written with the SDK (the v2 example's data)."""
    example = json.loads((contract.EXAMPLES_DIR / "RequestReceived.v2.json").read_text())
    data = json.loads(json.dumps(example["data"]).replace(EXAMPLE_REQUEST_ID, request_id))
    data["submission"]["external_ref"] = f"SDK-{request_id[:8]}"
    attributes = {
        "id": str(uuid.uuid4()),
        "source": "/agency-portal/sdk",
        "type": RequestReceived.type_name(),
        "subject": request_id,
        "time": datetime.now(UTC),
        "datacontenttype": "application/json; charset=utf-8",
        "dataschema": RequestReceived.dataschema(),
        "partitionkey": request_id,
        **extensions,
    }
    return CloudEvent(attributes, data)


async def _publish(producer: AIOKafkaProducer, topic: str, message: ce_kafka.KafkaMessage) -> None:
    key = message.key.encode() if isinstance(message.key, str) else message.key
    await producer.send_and_wait(
        topic, message.value, key=key, headers=list(message.headers.items())
    )


def _sdk_read(headers: dict[str, bytes], key: bytes | None, value: bytes) -> BaseCloudEvent:
    """The record as the SDK reads it, in the mode its headers say."""
    message = ce_kafka.KafkaMessage(headers=headers, key=key, value=value)
    if any(name.startswith("ce_") for name in headers):
        return ce_kafka.from_binary(message, FORMAT)
    return ce_kafka.from_structured(message, FORMAT)


async def _events_on_topics(
    system: DocketSystem, keys: set[str], until: Any, timeout_s: float = 180.0
) -> dict[str, tuple[str, dict[str, bytes], BaseCloudEvent]]:
    """Every record keyed by one of ``keys`` on every event topic, read by the SDK:
    event id -> (topic, headers, event); read until ``until(events)`` holds."""
    consumer = AIOKafkaConsumer(
        *EVENT_TOPICS,
        **system.kafka.client_options(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    events: dict[str, tuple[str, dict[str, bytes], BaseCloudEvent]] = {}
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key is None or record.key.decode() not in keys:
                        continue
                    if record.topic == topics.REQUEST_RECEIVED and record.value == b"{poison":
                        continue  # the one record that is not an event, on purpose
                    headers = dict(record.headers)
                    event = _sdk_read(headers, record.key, record.value or b"")
                    events[event.get_id()] = (record.topic, headers, event)
            if until(events):
                return events
        raise TimeoutError(
            f"never complete: {sorted({e.get_type() for _, _, e in events.values()})}"
        )
    finally:
        await consumer.stop()


def _names(events: dict[str, tuple[str, dict[str, bytes], BaseCloudEvent]]) -> set[str]:
    return {READABLE_TYPES[event.get_type()][0].EVENT_TYPE for _, _, event in events.values()}


#: The services that read docket.request.received and dead-letter a record that is not an
#: event (audit dead-letters only the topics it alone reads: AUDIT_IS_ONLY_READER).
POISON_READERS = ("classifier", "notifier")


async def test_the_cloudevents_sdk_reads_every_topic_and_docket_reads_the_sdk(
    docket_system: DocketSystem,
) -> None:
    submitted = await _submit_examples(docket_system)
    examples, example_request_ids, pushed_ids = _example_records()
    binary_id, structured_id, poison_id = (str(uuid.uuid4()) for _ in range(3))
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    binary_event = _sdk_received(binary_id, traceparent=traceparent)
    structured_event = _sdk_received(structured_id, comexampleextension1="value", sequence=7)
    binary = ce_kafka.to_binary(binary_event, FORMAT)
    structured = ce_kafka.to_structured(structured_event, FORMAT)
    assert "ce_specversion" in binary.headers
    assert binary.value.startswith(b"{")
    assert structured.headers["content-type"] == CONTENT_TYPE.encode()
    assert b'"comexampleextension1"' in structured.value
    assert b"charset=utf-8" in structured.value
    pushed_ids |= {binary_event.get_id(), structured_event.get_id()}

    producer = AIOKafkaProducer(**docket_system.kafka.client_options(), acks="all")
    await producer.start()
    try:
        for topic, key, value in examples:
            headers = [("content-type", CONTENT_TYPE.encode())]
            await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
        await _publish(producer, topics.REQUEST_RECEIVED, binary)
        await _publish(producer, topics.REQUEST_RECEIVED, structured)
        await producer.send_and_wait(topics.REQUEST_RECEIVED, b"{poison", key=poison_id.encode())
    finally:
        await producer.stop()

    keys = {*submitted, *example_request_ids, binary_id, structured_id, poison_id}
    every_name = {cls.EVENT_TYPE for cls in EVENT_CLASSES}

    def classified(request_id: str, events: Any) -> bool:
        return any(
            event.get_subject() == request_id and topic == topics.REQUEST_CLASSIFIED
            for topic, _, event in events.values()
        )

    def complete(events: Any) -> bool:
        dead = [e for _, _, e in events.values() if e.get_subject() == poison_id]
        return (
            _names(events) == every_name
            and all(classified(request_id, events) for request_id in (binary_id, structured_id))
            and all(classified(request_id, events) for request_id in submitted)
            and len(dead) >= len(POISON_READERS)
        )

    events = await _events_on_topics(docket_system, keys, complete)

    # every event type parsed by the SDK, its data read by Docket's model of its version
    for topic, _headers, event in events.values():
        cls, _version = READABLE_TYPES[event.get_type()]
        assert topic == cls.TOPIC
        data = event.get_data()
        assert isinstance(data, dict)
        assert cls.model_validate(data).request_id == event.get_subject()
    # what Docket's services wrote: reverse-DNS type, partitionkey = key, structured mode
    written = {i: v for i, v in events.items() if i not in pushed_ids}
    assert {READABLE_TYPES[e.get_type()][0] for _, _, e in written.values()} >= {
        RequestReceived,
        DeadLettered,
    }
    for _topic, record_headers, event in written.values():
        assert event.get_type().startswith("org.docket."), event.get_type()
        # each in its current version (v3 for the classifier's minimal verdicts)
        assert event.get_type() == READABLE_TYPES[event.get_type()][0].type_name()
        assert event.get_extension("partitionkey") == event.get_subject()
        assert record_headers["content-type"] == CONTENT_TYPE.encode()
    # the SDK's binary and structured events were processed, not dead-lettered
    dead_letters = [
        DeadLettered.model_validate(event.get_data())
        for _topic, _headers, event in events.values()
        if READABLE_TYPES[event.get_type()][0] is DeadLettered and event.get_id() in written
    ]
    assert {d.request_id for d in dead_letters} == {poison_id}, dead_letters
    assert sorted(d.consumer for d in dead_letters) == sorted(POISON_READERS)
    assert all(d.reason.startswith("not JSON") for d in dead_letters)
    for request_id in (binary_id, structured_id):  # audit kept them as events too
        await docket_system.wait_for_history(
            request_id, lambda h: {"RequestReceived", "RequestClassified"} <= _history_types(h)
        )


def _history_types(history: dict[str, Any]) -> set[str]:
    return {event["type"] for event in history["events"]}
