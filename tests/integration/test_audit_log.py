"""The audit log on the real broker and database: every record stored once, in a
dense order, unreadable records kept with their reason, history rewrites refused."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.kafka.security import KafkaAccess
from services.audit.app import create_app
from services.audit.domain.merkle import verify_inclusion
from shared import topics
from shared.events import DecisionRecorded, Outcome, envelope_for
from shared.settings import AuditSettings
from tests.fixtures.keys import STANDARD_KEYS, bearer, issue_keys
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import free_port, start_service

pytestmark = pytest.mark.integration


async def _wait_for(
    url: str, check: Any, headers: dict[str, str], timeout_s: float = 30.0
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5, headers=headers) as client:
        for _ in range(int(timeout_s / 0.2)):
            response = await client.get(url)
            if response.status_code == 200 and check(response.json()):
                body: dict[str, Any] = response.json()
                return body
            await asyncio.sleep(0.2)
    raise TimeoutError(url)


async def test_events_are_stored_once_densely_and_unreadable_records_are_kept(
    kafka_access: KafkaAccess, database_url: str, docket_database: DocketDatabase
) -> None:
    port = free_port()
    settings = AuditSettings(
        **kafka_access.service_settings("audit"),
        database_url=docket_database.url("audit"),
        port=port,
        signing_key_file=Path(tempfile.mkdtemp()) / "key.pem",
    )
    audit = await start_service("audit", create_app(settings), port)
    # a request with no RequestReceived has no known owner: only the national-security
    # scope sees it (fail closed)
    keys = await issue_keys(database_url, {"natsec": STANDARD_KEYS["natsec"]})
    request_id = f"req-audit-{datetime.now(UTC).timestamp()}"
    decision = DecisionRecorded(
        request_id=request_id,
        outcome=Outcome.REJECTED,
        decided_by="legal-ops",
        submitted_by="test",
    )
    envelope = envelope_for(decision, source="/tests")
    producer = AIOKafkaProducer(
        **kafka_access.client_options(), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for _ in range(3):  # a redelivered event must be stored once
            await producer.send_and_wait(
                topics.REQUEST_DECIDED, envelope.to_bytes(), key=request_id.encode()
            )
        await producer.send_and_wait(
            topics.NOTIFICATION, b"not json at all", key=request_id.encode()
        )
        history = await _wait_for(
            f"{audit.url}/v1/requests/{request_id}",
            lambda body: len(body["events"]) >= 3,
            bearer(keys["natsec"]),
        )
        types = sorted(event["type"] for event in history["events"])
        # Only audit reads docket.notification, so audit also dead-letters the poison.
        assert types == ["DeadLettered", "DecisionRecorded", "UnreadableRecord"]
        assert history["state"] == "decided"

        conn = await asyncpg.connect(database_url)
        try:
            indexes = [
                row["leaf_index"]
                for row in await conn.fetch("SELECT leaf_index FROM audit.event_log ORDER BY 1")
            ]
            assert indexes == list(range(len(indexes)))
            reason = await conn.fetchval(
                "SELECT leaf_data FROM audit.event_log"
                " WHERE event_type = 'UnreadableRecord' AND request_id = $1",
                request_id,
            )
            assert "not JSON" in json.loads(bytes(reason))["unreadable"]["reason"]
            with pytest.raises(asyncpg.PostgresError, match="append-only"):
                await conn.execute("UPDATE audit.event_log SET event_type = 'x'")
            with pytest.raises(asyncpg.PostgresError, match="append-only"):
                await conn.execute("DELETE FROM audit.event_log")
        finally:
            await conn.close()

        async with httpx.AsyncClient(timeout=5) as client:
            head = (await client.get(f"{audit.url}/v1/audit/tree-head")).json()
            leaf = history["events"][0]["leaf_index"]
            proof = (
                await client.get(
                    f"{audit.url}/v1/audit/proof/inclusion",
                    params={"leaf_index": leaf, "tree_size": head["tree_size"]},
                )
            ).json()
        assert verify_inclusion(
            leaf,
            head["tree_size"],
            bytes.fromhex(proof["leaf_hash"]),
            [bytes.fromhex(node) for node in proof["audit_path"]],
            bytes.fromhex(head["root_hash"]),
        )
    finally:
        await producer.stop()
        await audit.stop()
