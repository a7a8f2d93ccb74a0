"""What the deadline tests share: a PagerDuty Events v2 receiver (a real HTTP server),
the events of one request with a response deadline, and readers of what was reported."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI, Request, Response

from deploy.kafka.security import KafkaAccess
from shared import topics
from shared.events import EventData
from tests.fixtures.servers import free_port, start_service
from tests.unit.audit import factories as f

ROUTING_KEY = "test-routing-key-0123456789abcdef"


@dataclass
class PagerReceiver:
    """PagerDuty's Events v2 endpoint as a test sees it: keeps every event, answers the
    next scripted status (202, as PagerDuty does, once the script is empty)."""

    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v2/enqueue")
        async def enqueue(request: Request) -> Response:
            self.events.append(json.loads(await request.body()))
            status = self.statuses.pop(0) if self.statuses else 202
            return Response(
                json.dumps({"status": "success", "message": "Event processed"}),
                status_code=status,
                media_type="application/json",
            )

        return app

    def of(self, request_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["dedup_key"].startswith(f"docket/{request_id}/")]


async def pager_receiver() -> AsyncIterator[PagerReceiver]:
    receiver = PagerReceiver()
    service = await start_service("pager", receiver.app(), free_port(), with_admin=False)
    receiver.url = f"{service.url}/v2/enqueue"
    try:
        yield receiver
    finally:
        await service.stop()


def request_due(request_id: str, due: datetime, risk: str = "high") -> list[EventData]:
    """A received and classified request whose response is due at ``due``."""
    sub = f.submission(deadline=due, received_at=due.replace(year=due.year - 1))
    return [f.received(request_id, sub), f.classified(request_id, sub, risk=risk)]


async def logged(conn: asyncpg.Connection, request_id: str, event_type: str) -> int:
    """How many leaves of this type the audit log holds for the request."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM audit.event_log WHERE request_id = $1 AND event_type = $2",
        request_id,
        event_type,
    )
    return count


async def on_topic(kafka: KafkaAccess, request_id: str) -> list[dict[str, Any]]:
    """Every record of ``docket.deadline`` keyed by the request, as envelopes."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topics.DEADLINE, p) for p in range(topics.PARTITIONS[topics.DEADLINE])
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []
        while any([await consumer.position(p) < ends[p] for p in partitions]):
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                found += [json.loads(r.value) for r in records if r.key == request_id.encode()]
        return found
    finally:
        await consumer.stop()
