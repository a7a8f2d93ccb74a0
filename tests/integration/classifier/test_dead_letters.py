"""Records the classifier cannot read go to the dead-letter topic with the reason, and
the consumer moves on: the good request behind them on the same partition is classified."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from deploy.kafka.security import KafkaAccess
from shared import topics
from shared.events import DeadLettered, RequestClassified, envelope_for
from tests.integration.classifier.conftest import (
    Feed,
    Found,
    StartClassifier,
    new_request_id,
    read_events,
)
from tests.integration.classifier.test_reclassification import received, verdict_for

pytestmark = pytest.mark.integration


async def test_unreadable_records_are_dead_lettered_and_the_consumer_moves_on(
    start_classifier: StartClassifier, feed: Feed, kafka_access: KafkaAccess
) -> None:
    request_id = new_request_id()
    good = received(request_id)
    future = envelope_for(good, source="/docket/test").model_copy(
        update={"dataschema": "urn:docket:event:RequestReceived:v9"}
    )
    wrong_schema = {
        "id": "not-an-event",
        "subject": request_id,
        "time": datetime.now(UTC).isoformat(),
    }
    # the same key puts them on one partition, in front of the good request
    await feed.raw(topics.REQUEST_RECEIVED, request_id, b"\x00 not json {")
    await feed.raw(topics.REQUEST_RECEIVED, request_id, json.dumps(wrong_schema).encode())
    await feed.raw(topics.REQUEST_RECEIVED, request_id, future.to_bytes())
    await start_classifier()
    cause = await feed.event(good)

    verdict = await verdict_for(kafka_access, request_id, cause.id)
    assert isinstance(verdict, RequestClassified)

    def three(events: Found) -> bool:
        return len(events) >= 3

    events = await read_events(kafka_access, topics.DEADLETTER, request_id, three)
    letters = [d for _, d in events if isinstance(d, DeadLettered)]
    assert len(letters) == 3
    assert {d.consumer for d in letters} == {"classifier"}
    assert {d.original_topic for d in letters} == {topics.REQUEST_RECEIVED}
    offsets = [d.original_offset for d in letters]
    assert offsets == sorted(offsets)
    not_json, not_envelope, unknown_version = (d.reason for d in letters)
    assert not_json.startswith("not JSON:")
    assert not_envelope.startswith("not a CloudEvents 1.0 envelope:")
    assert unknown_version.startswith(
        "unsupported schema 'urn:docket:event:RequestReceived:v9' for RequestReceived"
    )
