"""Helpers of audit's integration tests: start audit, publish events, wait."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from deploy.kafka.security import KafkaAccess
from services.audit.app import create_app
from shared import topics
from shared.events import DeadLettered, EventData, envelope_for
from shared.settings import AuditSettings
from tests.fixtures.keys import STANDARD_KEYS, bearer, issue_keys
from tests.fixtures.postgres import migrate_database, service_url
from tests.fixtures.servers import RunningService, free_port, start_service
from tests.unit.audit import factories as f


async def start_audit(kafka: KafkaAccess, database_url: str, **overrides: Any) -> RunningService:
    """Audit on ``database_url``'s database (any role's URL; migrated here, as the owner),
    logged in to PostgreSQL as its own role and to Kafka as its own principal."""
    await migrate_database(database_url)
    port = free_port()
    settings = AuditSettings(
        **kafka.service_settings("audit"),
        database_url=service_url(database_url, "audit"),
        port=port,
        signing_key_file=Path(tempfile.mkdtemp()) / "key.pem",
        **({"consumer_group_prefix": f"docket-audit-test-{secrets.token_hex(4)}"} | overrides),
    )
    return await start_service("audit", create_app(settings), port)


async def audit_client(audit: RunningService, database_url: str) -> httpx.AsyncClient:
    """A client of ``audit`` with a legal key that also has the national-security scope
    (it sees every request, unredacted)."""
    keys = await issue_keys(database_url, {"natsec": STANDARD_KEYS["natsec"]})
    return httpx.AsyncClient(base_url=audit.url, timeout=10, headers=bearer(keys["natsec"]))


async def publish(
    kafka: KafkaAccess, events: list[EventData], raw: list[tuple[str, bytes]]
) -> None:
    producer = AIOKafkaProducer(**kafka.client_options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            envelope = envelope_for(event, source="/tests")
            await producer.send_and_wait(
                event.TOPIC, envelope.to_bytes(), key=event.request_id.encode()
            )
        for topic, value in raw:
            await producer.send_and_wait(topic, value, key=b"poison")
    finally:
        await producer.stop()


async def wait_until(check: Any, timeout_s: float = 60.0) -> Any:
    for _ in range(int(timeout_s / 0.25)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    raise TimeoutError("condition not met")


def window() -> tuple[datetime, datetime]:
    """A month of its own, so other tests' records on the shared broker stay out."""
    start = datetime(2030 + secrets.randbelow(60), 1 + secrets.randbelow(12), 1, tzinfo=UTC)
    return start, start + timedelta(days=28)


def scenario(prefix: str, start: datetime) -> list[EventData]:
    day = start + timedelta(days=3)
    us = f.submission(country="US", targets=2, received_at=day, deadline=day + timedelta(days=9))
    de = f.submission(country="DE", emergency=True, received_at=day + timedelta(days=1))
    fr = f.submission(country="FR", received_at=day + timedelta(days=2))
    return [
        f.received(f"{prefix}-1", us),
        f.classified(f"{prefix}-1", us, "subpoena", "high"),
        f.notified(f"{prefix}-1", "u0"),
        f.decided(f"{prefix}-1", "disclosed"),
        f.received(f"{prefix}-2", de),
        f.classified(f"{prefix}-2", de, "emergency"),
        f.received(f"{prefix}-3", fr),
        DeadLettered(
            request_id=f"{prefix}-3",
            consumer="notifier",
            reason="webhook payload rejected",
            original_topic=topics.REQUEST_CLASSIFIED,
            original_partition=0,
            original_offset=7,
            original_size=3,
            original_sha256="0" * 64,
            original_value_b64="e30=",
            failed_at=day,
        ),
    ]
