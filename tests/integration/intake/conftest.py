"""Intake against the real broker and a fresh database: a running server, its API keys
and a way to count the events it wrote."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.kafka.security import KafkaAccess
from services.intake.app import create_app
from shared import topics
from shared.settings import IntakeSettings
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import RunningService, free_port, start_service

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "requests"
SECRET = "integration-7Hq2vXb9LmN4pR8sT1wY6zA3cE5gJ0kU"
BOOTSTRAP_KEY = f"legal-ops:legal:{SECRET}"
AUTH = {"authorization": f"Bearer {SECRET}"}

StartIntake = Callable[[], Awaitable[RunningService]]


def submission(**changes: Any) -> dict[str, Any]:
    """Example 01 under a fresh external_ref (a new request every call)."""
    body: dict[str, Any] = json.loads(
        (EXAMPLES / "01-customs-summons-anonymous-critic.json").read_text()
    )
    body["external_ref"] = f"IT-{uuid.uuid4()}"
    body.update(changes)
    return body


@pytest.fixture
async def start_intake(
    kafka_access: KafkaAccess, docket_database: DocketDatabase
) -> AsyncIterator[StartIntake]:
    """Starts intake (again, after a stop) on one port and database (the test's, migrated;
    intake logs in as its own role); stops it at the end."""
    port = free_port()
    running: list[RunningService] = []

    async def start() -> RunningService:
        settings = IntakeSettings(
            **kafka_access.service_settings("intake"),
            database_url=docket_database.url("intake"),
            bootstrap_key=BOOTSTRAP_KEY,
            publish_timeout_s=3.0,
            port=port,
        )
        service = await start_service("intake", create_app(settings), port)
        running.append(service)
        return service

    yield start
    for service in running:
        if not service.task.done():
            await service.stop()


@pytest.fixture
async def intake(start_intake: StartIntake) -> RunningService:
    return await start_intake()


async def events_for(kafka: KafkaAccess, topic: str, request_id: str) -> list[dict[str, Any]]:
    """Every record on ``topic`` keyed by ``request_id`` (its CloudEvents envelope)."""
    key = request_id.encode()
    return await _records(kafka, topic, lambda record: record.key == key)


async def received_for_ref(kafka: KafkaAccess, external_ref: str) -> list[dict[str, Any]]:
    """Every RequestReceived of a submission with this ``external_ref``."""
    marker = external_ref.encode()
    found = await _records(kafka, topics.REQUEST_RECEIVED, lambda r: marker in r.value)
    return [e for e in found if e["data"]["submission"]["external_ref"] == external_ref]


async def _records(
    kafka: KafkaAccess, topic: str, wanted: Callable[[Any], bool]
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic, **kafka.client_options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka has no assignment event
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*partitions, timeout_ms=1_000)
            for records in batch.values():
                for record in records:
                    if wanted(record):
                        found.append(json.loads(record.value))
        return found
    finally:
        await consumer.stop()
