"""The classifier as the real app on the session's broker and a fresh database, a
producer to feed it and a reader for the topics it writes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.kafka.security import KafkaAccess
from services.classifier.app import create_app
from shared.events import Envelope, EventData, EventRejected, envelope_for, parse_event
from shared.settings import ClassifierSettings
from shared.submission import Submission
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import RunningService, free_port, start_service

StartClassifier = Callable[..., Awaitable[RunningService]]
#: The events of one request read from a topic, one per event id, in topic order.
Found = list[tuple[Envelope, EventData]]


@pytest.fixture
async def start_classifier(
    kafka_access: KafkaAccess, docket_database: DocketDatabase
) -> AsyncIterator[StartClassifier]:
    """Start the classifier (settings overridable) in its own consumer group, on the
    test's database (migrated; the classifier logs in as its own role)."""
    running: list[RunningService] = []

    async def start(**overrides: Any) -> RunningService:
        port = free_port()
        settings = ClassifierSettings(
            **kafka_access.service_settings("classifier"),
            database_url=docket_database.url("classifier"),
            consumer_group=f"docket-classifier-test-{secrets.token_hex(4)}",
            port=port,
            **overrides,
        )
        service = await start_service("classifier", create_app(settings), port)
        running.append(service)
        return service

    yield start
    for service in running:
        await service.stop()


class Feed:
    """Publishes events (or raw records) the way intake does: request id as the key."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def event(self, data: EventData, event_id: str | None = None) -> Envelope:
        envelope = envelope_for(data, source="/docket/test", event_id=event_id)
        await self.raw(data.TOPIC, data.request_id, envelope.to_bytes())
        return envelope

    async def raw(self, topic: str, key: str, value: bytes) -> None:
        await self._producer.send_and_wait(topic, value, key=key.encode())


@pytest.fixture
async def feed(kafka_access: KafkaAccess) -> AsyncIterator[Feed]:
    producer = AIOKafkaProducer(
        **kafka_access.client_options(), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        yield Feed(producer)
    finally:
        await producer.stop()


async def read_events(
    kafka: KafkaAccess,
    topic: str,
    request_id: str,
    until: Callable[[Found], bool],
    timeout_s: float = 60.0,
) -> Found:
    """The events of ``request_id`` on ``topic`` (one per event id, in topic order), read
    from the start until ``until`` holds; ``TimeoutError`` if it never does."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[str, tuple[Envelope, EventData]] = {}
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key != request_id.encode() or record.value is None:
                        continue
                    try:
                        envelope, data = parse_event(record.value)
                    except EventRejected:
                        continue
                    found.setdefault(envelope.id, (envelope, data))
            if until(list(found.values())):
                return list(found.values())
        raise TimeoutError(f"{topic}: events of {request_id} never matched: {found}")
    finally:
        await consumer.stop()


def new_request_id() -> str:
    return f"req-classifier-{secrets.token_hex(6)}"


RECEIVED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def subpoena(external_ref: str) -> Submission:
    """A grand-jury subpoena without a gag (amendments add one)."""
    return Submission.model_validate(
        {
            "external_ref": external_ref,
            "received_via": "portal",
            "received_at": RECEIVED_AT.isoformat(),
            "requester": {
                "agency": "United States Attorney's Office",
                "agency_type": "federal_law_enforcement",
                "country": "US",
            },
            "instrument": {
                "type": "subpoena",
                "cited_authority": "Fed. R. Crim. P. 17; 18 U.S.C. § 2703(c)(2)",
                "issued_by": "Assistant United States Attorney for the grand jury",
                "response_deadline": (RECEIVED_AT + timedelta(days=20)).isoformat(),
                "nondisclosure": {"ordered": False},
                "document_text": "GRAND JURY SUBPOENA. Produce basic subscriber records.",
            },
            "targets": [{"handle": "@classifier_test_target"}],
            "data_requested": ["subscriber_identity"],
            "stated_purpose": "Investigation of wire fraud, 18 U.S.C. 1343",
        }
    )


POLICY_DIR = Path(__file__).resolve().parents[3] / "services" / "classifier" / "policy"
