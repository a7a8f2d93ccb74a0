"""A stopped broker: 503 with Retry-After within the publish timeout, nothing recorded;
after the restart the retry is accepted and the request has one event."""

from __future__ import annotations

import time

import httpx
import pytest

from deploy.kafka.launcher import KafkaBroker
from deploy.kafka.security import KafkaAccess
from shared import topics
from tests.fixtures.servers import RunningService
from tests.integration.intake.conftest import AUTH, events_for, submission

pytestmark = pytest.mark.integration


async def test_broker_down_is_503_then_retry_succeeds_once(
    intake: RunningService, kafka_broker_handle: KafkaBroker, kafka_access: KafkaAccess
) -> None:
    body = submission()
    headers = {**AUTH, "idempotency-key": "outage-1"}
    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as client:
        warm = await client.post("/v1/requests", json=submission(), headers=AUTH)
        assert warm.status_code == 202
        await kafka_broker_handle.stop()
        started = time.monotonic()
        refused = await client.post("/v1/requests", json=body, headers=headers)
        elapsed = time.monotonic() - started
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.headers["content-type"] == "application/problem+json"
        assert elapsed < 10
        await kafka_broker_handle.start()
        retried = await client.post("/v1/requests", json=body, headers=headers)
        assert retried.status_code == 202
        again = await client.post("/v1/requests", json=body, headers=headers)
        assert again.json() == retried.json()
    events = await events_for(kafka_access, topics.REQUEST_RECEIVED, retried.json()["request_id"])
    # The timed-out attempt may still reach the log once the broker is back (the producer
    # had buffered it): it carries the same event id, which every sink deduplicates on.
    assert len({event["id"] for event in events}) == 1
    assert 1 <= len(events) <= 2
